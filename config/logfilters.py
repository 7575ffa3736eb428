"""Logging filters that keep the logs to lines worth reading (issue 14): what runs every few seconds
or minutes as planned, and a client's mistake, are not news."""

from __future__ import annotations

import logging
from datetime import timedelta

# A periodic task due this often or more is routine: its "sending", "received" and "succeeded"
# lines are DEBUG (shown with --loglevel DEBUG); its failures and retries are logged as ever.
ROUTINE_SECONDS = 300


def routine_task_names(beat_schedule: dict) -> frozenset[str]:
    """Entry and task names of the schedule's entries due at least every ROUTINE_SECONDS."""
    names = set()
    for entry_name, entry in beat_schedule.items():
        schedule = entry["schedule"]
        seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else schedule
        if isinstance(seconds, int | float) and seconds <= ROUTINE_SECONDS:
            names |= {entry_name, entry["task"]}
    return frozenset(names)


class RoutineTasksAtDebug(logging.Filter):
    """On Celery's loggers of beat's sends (``celery.beat``) and a worker's received and succeeded
    lines (``celery.worker.strategy``, ``celery.app.trace``): an INFO line about a routine task
    passes only when the logger is at DEBUG."""

    def __init__(self, names: frozenset[str]):
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        args = record.args
        if isinstance(args, dict):
            name = args.get("name")
        elif isinstance(args, tuple) and args:
            name = args[0]
        else:
            return True
        if name not in self.names:
            return True
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_routine_tasks(beat_schedule: dict) -> None:
    routine = RoutineTasksAtDebug(routine_task_names(beat_schedule))
    for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).addFilter(routine)


class ClientErrorsWithoutTraceback(logging.Filter):
    """``django.request`` logs a 403 (PermissionDenied) and other 4xx raised as exceptions with
    their traceback: a client's error is one WARNING line (method, path, status), not a stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 0) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
