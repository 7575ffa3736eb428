"""The route table's refreshes and the per-process model cache."""

import threading
import time

import pytest

from apps.packaging.sandbox.loaders import load_model
from apps.serving.inference.cache import ModelCache, ModelUnavailable
from apps.serving.inference.routes import RouteTable
from tests.unit.serving.conftest import arm, route


def test_a_failing_source_keeps_the_last_good_table(models, caplog):
    _, path = models["logreg"]
    answers = [[route(arm(path))], RuntimeError("database down"), []]

    def source():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    table = RouteTable(source)
    assert not table.loaded and table.get("production", "credit") is None
    assert table.refresh()
    assert table.get("production", "credit").primary.artifact_path == path
    assert not table.refresh()
    assert "keeping the last good table (1 routes)" in caplog.text
    assert len(table) == 1
    assert table.refresh()
    assert len(table) == 0


def test_the_background_thread_picks_up_changes_and_tells_listeners(models):
    _, path = models["logreg"]
    current = [route(arm(path))]
    seen = []
    table = RouteTable(lambda: list(current), refresh_seconds=0.02)
    table.on_change(seen.append)
    table.start()
    try:
        assert len(table) == 1
        current.append(route(arm(path), endpoint="fraud"))
        deadline = time.monotonic() + 5
        while table.get("production", "fraud") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert table.get("production", "fraud") is not None
        assert [len(routes) for routes in seen] == [1, 2]  # only changes are announced
    finally:
        table.stop()


def test_two_threads_load_one_model_once(models):
    _, path = models["logreg"]
    loads = []

    def slow_loader(*args, **kwargs):
        loads.append(args)
        time.sleep(0.2)
        return load_model(*args, **kwargs)

    cache = ModelCache(loader=slow_loader)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(arm(path)))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert len({id(r) for r in results}) == 1


def test_the_least_recently_used_model_is_dropped_past_the_bound(models):
    _, path = models["logreg"]
    cache = ModelCache(max_models=2)
    first, second, third = (arm(path, deployment_id=i) for i in (1, 2, 3))
    one = cache.get(first)
    cache.get(second)
    assert cache.get(first) is one  # first is now the most recently used
    cache.get(third)
    assert len(cache) == 2
    assert cache.get(first) is one  # still there: second was dropped
    cache.retain([first.cache_key])
    assert len(cache) == 1


def test_a_failed_load_is_not_retried_on_every_request(tmp_path):
    missing = arm(str(tmp_path / "missing.joblib"))
    calls = []

    def loader(*args, **kwargs):
        calls.append(1)
        raise OSError("no such file")

    cache = ModelCache(loader=loader, retry_after=60)
    for _ in range(3):
        with pytest.raises(ModelUnavailable):
            cache.get(missing)
    assert len(calls) == 1


# --- the saved table (a worker started while the route source is down) ----------------------------


def _down():
    raise RuntimeError("database down")


def test_a_worker_started_while_the_source_is_down_serves_the_saved_routes(models, tmp_path):
    _, path = models["logreg"]
    saved = tmp_path / "inference" / "routes.json"
    served = [route(arm(path), keys=["myk_one"]), route(arm(path, deployment_id=2), endpoint="fraud")]
    first = RouteTable(lambda: served, saved=saved)
    first.start()
    first.stop()
    assert saved.stat().st_mode & 0o777 == 0o600 and saved.parent.stat().st_mode & 0o777 == 0o700

    seen = []
    later = RouteTable(_down, saved=saved, refresh_seconds=60)
    later.on_change(seen.append)
    later.start()
    try:
        assert later.loaded and later.origin == "saved"
        assert sorted(later.routes(), key=lambda r: r.endpoint) == sorted(served, key=lambda r: r.endpoint)
        assert later.get("production", "credit").key_hashes == served[0].key_hashes
        assert len(seen) == 1  # listeners (the model cache) get the saved routes to warm
    finally:
        later.stop()


def test_the_source_replaces_the_saved_routes_once_it_answers(models, tmp_path):
    _, path = models["logreg"]
    saved = tmp_path / "routes.json"
    RouteTable(lambda: [route(arm(path))], saved=saved).refresh()
    answers = [RuntimeError("down"), [route(arm(path), endpoint="fraud")]]

    def source():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    table = RouteTable(source, saved=saved, refresh_seconds=60)
    table.start()
    try:
        assert table.origin == "saved" and table.get("production", "credit")
        assert table.refresh()
        assert table.origin == "source" and table.get("production", "credit") is None
        assert table.get("production", "fraud")
    finally:
        table.stop()
    from apps.serving.inference.routes import read_saved_routes

    assert [r.endpoint for r in read_saved_routes(saved)] == ["fraud"]  # the file follows the source


def test_without_saved_routes_a_worker_has_none_and_says_so(tmp_path, caplog):
    table = RouteTable(_down, saved=tmp_path / "routes.json", refresh_seconds=60)
    table.start()
    table.stop()
    assert not table.loaded and table.origin is None and len(table) == 0
    assert "no saved routes" in caplog.text


@pytest.mark.parametrize("spoil", ["garbage", "other format", "group-writable", "folder open to all"])
def test_an_unusable_or_foreign_writable_saved_table_is_not_served(models, tmp_path, caplog, spoil):
    _, path = models["logreg"]
    saved = tmp_path / "saved" / "routes.json"
    RouteTable(lambda: [route(arm(path))], saved=saved).refresh()
    if spoil == "garbage":
        saved.write_bytes(b"{not json")
    elif spoil == "other format":
        saved.write_bytes(saved.read_bytes().replace(b'"format": 1', b'"format": 99'))
    elif spoil == "group-writable":
        saved.chmod(0o620)  # someone else could have pointed a route at a model file of theirs
    else:
        saved.parent.chmod(0o777)  # … or put a file of theirs in its place
    table = RouteTable(_down, saved=saved, refresh_seconds=60)
    table.start()
    table.stop()
    assert not table.loaded and len(table) == 0
    assert "saved routes" in caplog.text


def test_a_saved_table_in_a_sticky_folder_open_to_all_is_served(models, tmp_path):
    """Like /tmp: others may write there but cannot replace or remove a file of ours."""
    _, path = models["logreg"]
    saved = tmp_path / "shared" / "routes.json"
    RouteTable(lambda: [route(arm(path))], saved=saved).refresh()
    saved.parent.chmod(0o1777)
    table = RouteTable(_down, saved=saved, refresh_seconds=60)
    table.start()
    table.stop()
    assert table.origin == "saved" and len(table) == 1
