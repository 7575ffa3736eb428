"""The whole serving path as a data scientist and an IT operator drive it with the client: register,
package and roll out in a real worker, create consumer keys, score on a real inference service that
reads its routes and keys from the database and requires a key, find every answered prediction in
the database exactly once, send outcomes, and go through canary, promote and rollback with the
service following each change."""

import json

import pytest
from click.testing import CliRunner
from client_helpers import TARGET, train_credit_pipeline

from modelyard import Client
from modelyard.cli import cli
from modelyard.errors import ApiError, ModelyardError
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _it_operator_token() -> str:
    from apps.accounts.roles import Role
    from apps.accounts.services import token_create, user_create

    user = user_create(username="ivan", role=Role.IT_OPERATOR, team_name=None, password="pw-for-tests")
    return token_create(user=user, name="client-tests")


def _live(client: Client, deployment: dict) -> dict:
    def done():
        found = [d for d in client.deployments(deployment["endpoint"]) if d["id"] == deployment["id"]]
        return found[0] if found and found[0]["status"] in ("live", "failed") else None

    final = wait_for(done, timeout=120)
    assert final["status"] == "live", final
    return final


def _served_versions(client: Client, records: list[dict], key: str, times: int) -> set[int]:
    return {client.predict("served-risk", records, "production", key=key)["version"] for _ in range(times)}


def _stored_rows(request_ids: list[str]) -> int:
    from apps.serving.ingest import drain
    from apps.serving.logbuffer import open_buffer
    from apps.serving.models import Prediction

    drain(open_buffer(), max_batches=None)
    return Prediction.objects.filter(request_id__in=request_ids).count()


def test_register_deploy_predict_log_canary_promote_rollback(
    scientist, credit_sample, celery_worker, start_inference_service, monkeypatch, tmp_path
):
    inference_service = start_inference_service(MODELYARD_INFERENCE_REQUIRE_KEYS="true")
    monkeypatch.setenv("MODELYARD_INFERENCE_URL", inference_service)
    dana = Client(url=scientist.url, token=scientist.token)
    ivan = Client(url=scientist.url, token=_it_operator_token())
    features = credit_sample.drop(columns=[TARGET])
    records = json.loads(features.head(3).to_json(orient="records"))

    models = [train_credit_pipeline(credit_sample.sample(frac=0.8, random_state=s)) for s in (1, 2)]
    for model in models:
        version = dana.register(model, name="served", reference=credit_sample, target=TARGET)
        assert dana.build_package(version.id, wait=True, progress=False)["status"] == "succeeded"

    _live(dana, dana.deploy("served", 1, endpoint="served-risk", environment="staging"))
    with pytest.raises(ApiError) as refused:  # keys are required: none yet
        dana.predict("served-risk", records, "staging")
    assert refused.value.status == 401 and "consumer key" in refused.value.detail
    staging_key = dana.create_endpoint_key("served-risk", "client tests", "staging")["key"]
    answer = wait_for(lambda: _try_predict(dana, records, "staging", staging_key), timeout=30)
    assert answer["version"] == 1 and len(answer["predictions"]) == 3
    assert len(answer["probabilities"][0]) == len(answer["classes"])
    assert answer["predictions"] == models[0].predict(features.head(3)).tolist()

    request_ids = [answer["request_id"]]
    request_ids += [
        dana.predict("served-risk", records[i], "staging", key=staging_key, request_id=f"loan-{i}")[
            "request_id"
        ]
        for i in range(3)
    ]
    assert request_ids[1:] == ["loan-0", "loan-1", "loan-2"]
    with pytest.raises(ApiError) as reused:
        dana.predict("served-risk", records[0], "staging", key=staging_key, request_id="loan-0")
    assert reused.value.status == 409
    wait_for(lambda: _stored_rows(request_ids) == 3 + 3, timeout=20)  # one row per record
    assert _stored_rows(request_ids) == 6  # draining again adds nothing

    outcome = {"request_id": answer["request_id"], "row": 0, "value": "good"}
    sent = dana.send_outcomes("served-risk", [outcome], "staging")
    assert sent == {"accepted": 1, "overwritten": 0, "unknown": [], "unknown_count": 0}
    again = dana.send_outcomes("served-risk", [{**outcome, "value": "bad"}], "staging")
    assert again["accepted"] == 1 and again["overwritten"] == 1  # one row, the earlier value audited

    # Production: approval by IT, then a canary of version 2 that the service starts to route to.
    asked = dana.deploy("served", 1, endpoint="served-risk", environment="production")
    assert asked["status"] == "pending_approval"
    ivan.http.post(f"deployments/{asked['id']}/approve/", json={"reason": "validated"})
    _live(dana, asked)
    key = ivan.create_endpoint_key("served-risk", "client tests")["key"]  # IT may, for any team
    wait_for(lambda: _try_predict(dana, records, "production", key), timeout=30)
    canary = dana.deploy(
        "served", 2, endpoint="served-risk", environment="production", strategy="canary", percent=50
    )
    ivan.http.post(f"deployments/{canary['id']}/approve/", json={"reason": "try it on half"})
    _live(dana, canary)
    wait_for(lambda: _served_versions(dana, records, key, 20) == {1, 2}, timeout=30)

    assert ivan.promote("served-risk", "production", "canary looks fine")["version_number"] == 2
    wait_for(lambda: _served_versions(dana, records, key, 10) == {2}, timeout=30)

    back = ivan.rollback("served-risk", "production", "approval rate fell")
    assert back["version_number"] == 1
    wait_for(lambda: _served_versions(dana, records, key, 10) == {1}, timeout=30)

    # The CLI manages keys and scores through the same service with one.
    monkeypatch.setenv("MODELYARD_URL", scientist.url)
    monkeypatch.setenv("MODELYARD_TOKEN", scientist.token)
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "served-risk", "--environment", "staging", "--name", "cli"]
    )
    assert created.exit_code == 0, created.output
    cli_key = created.stdout.strip()
    assert cli_key.startswith("myk_") and "shown this once" in created.stderr
    listed = runner.invoke(cli, ["keys", "list", "served-risk", "--environment", "staging"])
    assert listed.exit_code == 0 and "cli" in listed.output and cli_key not in listed.output
    monkeypatch.setenv("MODELYARD_ENDPOINT_KEY", cli_key)
    predict = ["predict", "served-risk", "--environment", "staging", "--json", json.dumps(records[0])]
    out = wait_for(lambda: (o := runner.invoke(cli, predict)).exit_code == 0 and o, timeout=30)
    assert json.loads(out.stdout)["version"] == 1
    cli_key_id = next(k["id"] for k in dana.endpoint_keys("served-risk", "staging") if k["name"] == "cli")
    revoked = runner.invoke(
        cli, ["keys", "revoke", "served-risk", str(cli_key_id), "--environment", "staging"]
    )
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    refused = wait_for(lambda: (o := runner.invoke(cli, predict)).exit_code == 1 and o, timeout=30)
    assert "HTTP 401" in refused.output
    # Another team's data scientist: the endpoint's keys are a 404, as the endpoint is.
    endpoint_id = dana._endpoint_id("served-risk", "staging")
    mark = Client(url=scientist.url, token=_other_team_token())
    for call in (
        lambda: mark.http.get(f"endpoints/{endpoint_id}/keys/"),
        lambda: mark.http.post(f"endpoints/{endpoint_id}/keys/", json={"name": "mine now"}),
    ):
        with pytest.raises(ApiError) as other:
            call()
        assert other.value.status == 404

    # Outcomes from the CLI name the environment; production is the default, as for predictions.
    csv_path = tmp_path / "outcomes.csv"
    csv_path.write_text(f"request_id,row,value\n{answer['request_id']},1,bad\nnobody,0,good\n")
    sent = CliRunner().invoke(
        cli, ["outcomes", "send", str(csv_path), "--endpoint", "served-risk", "--environment", "staging"]
    )
    assert sent.exit_code == 0, sent.output
    assert "accepted 1; unknown ids 1" in sent.output and "unknown: nobody" in sent.output
    in_production = CliRunner().invoke(cli, ["outcomes", "send", str(csv_path), "--endpoint", "served-risk"])
    assert in_production.exit_code == 0, in_production.output
    assert "accepted 0; unknown ids 2" in in_production.output  # staging's request ids are not production's


def _other_team_token() -> str:
    from apps.accounts.roles import Role
    from apps.accounts.services import token_create, user_create

    user = user_create(
        username="mark", role=Role.DATA_SCIENTIST, team_name="Insights", password="pw-for-tests"
    )
    return token_create(user=user, name="client-tests")


def _try_predict(client: Client, records, environment, key):
    """An answer once the service has picked up the new route and key (every half second)."""
    try:
        return client.predict("served-risk", records, environment, key=key)
    except ModelyardError:
        return None
