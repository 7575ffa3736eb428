"""Which arm answers: the primary, a canary for its share, the same arm for a sticky key, and shadows
scored beside the answer without changing it."""

import random
from collections import Counter

from apps.serving.inference.choosing import choose_arm
from apps.serving.inference.shadows import ShadowRunner
from tests.unit.serving.conftest import SCRAPER, arm, call, metric, route, sample_records


def canary_route(models, percent=10.0, sticky_key=None):
    _, path = models["logreg"]
    _, tree_path = models["tree"]
    return route(
        arm(path, deployment_id=1, version_id=11, number=1),
        arm(tree_path, deployment_id=2, version_id=12, number=2, role="canary", percent=percent),
        sticky_key=sticky_key,
    )


def test_a_canary_takes_its_share_of_2000_requests(models):
    table_route = canary_route(models, percent=10.0)
    rng = random.Random(42)
    record = sample_records(1)[0]
    picked = Counter(choose_arm(table_route, record, rng).role for _ in range(2000))
    assert 0.08 <= picked["canary"] / 2000 <= 0.12
    assert picked["primary"] + picked["canary"] == 2000


def test_canary_share_through_the_app_and_its_log(models, serve):
    app, log = serve(canary_route(models, percent=30.0), rng=random.Random(7))
    records = sample_records(400)
    deployments = Counter(call(app, payload={"records": [r]}).json["deployment"] for r in records)
    assert 0.24 <= deployments[2] / 400 <= 0.36
    roles = Counter(row["role"] for row in log.of_kind("prediction"))
    assert roles == {"primary": deployments[1], "canary": deployments[2]}


def test_no_canary_and_zero_percent_mean_the_primary_answers(models):
    _, path = models["logreg"]
    rng = random.Random(0)
    assert {choose_arm(route(arm(path)), {}, rng).role for _ in range(100)} == {"primary"}
    assert {choose_arm(canary_route(models, percent=0.0), {}, rng).role for _ in range(200)} == {"primary"}
    assert {choose_arm(canary_route(models, percent=100.0), {}, rng).role for _ in range(200)} == {"canary"}


def test_a_route_without_primary_chooses_nothing(models):
    _, path = models["tree"]
    assert choose_arm(route(arm(path, role="canary", percent=50)), {}, random.Random(0)) is None


def test_a_sticky_key_always_lands_on_the_same_arm(models):
    sticky = canary_route(models, percent=30.0, sticky_key="customer_id")
    first_choice = {}
    for attempt in range(5):
        rng = random.Random(attempt)  # a different random stream each time: it must not matter
        for customer in range(300):
            chosen = choose_arm(sticky, {"customer_id": f"C-{customer}"}, rng).role
            assert first_choice.setdefault(customer, chosen) == chosen
    share = Counter(first_choice.values())["canary"] / 300
    assert 0.2 <= share <= 0.4  # the hash spreads keys, it does not send them all one way


def test_sticky_keys_over_http_and_without_the_key(models, serve):
    record = sample_records(1)[0]
    # The sticky key is no feature of the model; it is no unexpected field either.
    app, log = serve(canary_route(models, percent=50.0, sticky_key="customer_id"), rng=random.Random(3))
    for customer in ("alice", "bob", "carol", "dave"):
        answers = {call(app, payload={"records": [{**record, "customer_id": customer}]}).json["deployment"]}
        for _ in range(10):
            answers.add(
                call(app, payload={"records": [{**record, "customer_id": customer}]}).json["deployment"]
            )
        assert len(answers) == 1
    without_key = {call(app, payload={"records": [record]}).json["deployment"] for _ in range(60)}
    assert without_key == {1, 2}  # random without the key
    assert log.rows[0]["inputs"]["customer_id"] == "alice"
    extra = call(app, payload={"records": [{**record, "customer_id": "erin", "note": "x"}]})
    assert extra.status == 422 and extra.json["errors"] == ["unexpected fields: 'note'"]


def test_a_shadow_is_scored_and_logged_while_the_primary_answers(models, serve):
    logreg, path = models["logreg"]
    tree, tree_path = models["tree"]
    shadows = ShadowRunner(workers=2)
    app, log = serve(
        route(arm(path), arm(tree_path, deployment_id=3, version_id=13, number=3, role="shadow")),
        shadows=shadows,
    )
    records = sample_records(5)
    answer = call(app, payload={"records": records})
    shadows.wait(timeout=10)

    assert answer.status == 200
    body = answer.json
    assert body["deployment"] == 1 and body["version"] == 1
    frame = _frame(records)
    assert body["predictions"] == logreg.predict(frame).tolist()
    rows = log.of_kind("prediction")
    primary = [r for r in rows if r["role"] == "primary"]
    shadow = [r for r in rows if r["role"] == "shadow"]
    assert [r["row"] for r in primary] == [r["row"] for r in shadow] == [0, 1, 2, 3, 4]
    assert {r["request_id"] for r in shadow} == {body["request_id"]}
    assert [r["deployment_id"] for r in shadow] == [3] * 5
    assert [r["prediction"] for r in shadow] == tree.predict(frame).tolist()
    assert [r["inputs"] for r in shadow] == records


def test_a_failing_shadow_changes_nothing_for_the_client(models, serve):
    logreg, path = models["logreg"]
    app, log = serve(
        route(
            arm(path), arm("/nowhere/model.joblib", deployment_id=4, version_id=14, number=4, role="shadow")
        ),
    )
    records = sample_records(3)
    answer = call(app, payload={"records": records})
    assert answer.status == 200
    assert answer.json["predictions"] == logreg.predict(_frame(records)).tolist()
    assert {r["role"] for r in log.rows} == {"primary"}
    metrics = call(app, "/metrics", method="GET", headers=SCRAPER).body.decode()
    assert metric(metrics, "inference_errors_total", endpoint="credit", kind="shadow") == 1


def test_a_full_shadow_backlog_sheds_shadow_work_not_answers(models, serve):
    import threading

    _, path = models["logreg"]
    gate = threading.Event()
    runner = ShadowRunner(workers=1, max_pending=1)
    assert runner.submit(gate.wait)  # occupies the only slot
    app, log = serve(route(arm(path), arm(path, deployment_id=5, role="shadow")), shadows=runner)
    answer = call(app, payload={"records": sample_records(1)})
    gate.set()
    runner.wait(timeout=10)
    assert answer.status == 200
    assert {r["role"] for r in log.rows} == {"primary"}
    metrics = call(app, "/metrics", method="GET", headers=SCRAPER).body.decode()
    assert metric(metrics, "inference_errors_total", endpoint="credit", kind="shadow_dropped") == 1


def _frame(records):
    import pandas as pd

    return pd.DataFrame(records)[["income", "age", "tenure"]]
