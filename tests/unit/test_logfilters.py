"""The filters that keep the logs short (config/logfilters.py, apps/serving/inference/server.py)."""

import logging

from apps.serving.inference.server import _ListeningAt
from config.celery import app
from config.logfilters import RoutineTasksAtDebug, routine_task_names


def _record(logger: str, msg: str, args, level=logging.INFO) -> logging.LogRecord:
    # As logger.info(msg, {...}) makes it: a lone mapping becomes record.args itself.
    return logging.LogRecord(
        logger, level, __file__, 1, msg, (args,) if isinstance(args, dict) else args, None
    )


def test_routine_tasks_are_those_due_every_few_minutes_or_more_often():
    names = routine_task_names(app.conf.beat_schedule)
    assert {"serving.ingest", "monitoring.profile_windows", "kpis.rollup"} <= names
    assert "libraries.scan_locks" not in names and "sla.prune" not in names  # nightly: news


def test_a_routine_task_is_logged_only_at_debug(caplog):
    routine = RoutineTasksAtDebug(routine_task_names(app.conf.beat_schedule))
    sending = "Scheduler: Sending due task %s (%s)"
    logger = logging.getLogger("celery.beat")
    old = logger.level
    try:
        logger.setLevel(logging.INFO)
        assert not routine.filter(_record("celery.beat", sending, ("serving.ingest", "serving.ingest")))
        assert routine.filter(
            _record("celery.beat", sending, ("libraries.scan_locks", "libraries.scan_locks"))
        )
        received = "Task %(name)s[%(id)s] received"
        assert not routine.filter(
            _record("celery.worker.strategy", received, {"name": "kpis.rollup", "id": "1"})
        )
        assert routine.filter(
            _record("celery.worker.strategy", received, {"name": "packaging.build", "id": "2"})
        )
        # A failure or a retry of a routine task is always news.
        failed = _record(
            "celery.app.trace", "Task %(name)s failed", {"name": "serving.ingest"}, logging.ERROR
        )
        assert routine.filter(failed)
        logger.setLevel(logging.DEBUG)
        assert routine.filter(_record("celery.beat", sending, ("serving.ingest", "serving.ingest")))
    finally:
        logger.setLevel(old)


def test_the_inference_service_says_where_it_listens():
    record = _record("gunicorn.error", "Listening at: %s (%s)", ("", 4321))
    assert _ListeningAt("127.0.0.1:8100").filter(record)
    assert record.getMessage() == "Listening at: http://127.0.0.1:8100 (a socket per worker) (4321)"
    untouched = _record("gunicorn.error", "Listening at: %s (%s)", ("http://127.0.0.1:8000", 1))
    _ListeningAt("127.0.0.1:8100").filter(untouched)
    assert untouched.getMessage() == "Listening at: http://127.0.0.1:8000 (1)"
