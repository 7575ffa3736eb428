"""Data outside the training range is data, against a real ``manage.py inference`` reading its
routes from the test database: out-of-range values are scored, logged and counted; an endpoint
refuses them for the features it names (set through the API); ``?partial=true`` scores the records
that fit. And on real loans: a model trained on 2016 applications scores 2018 ones without a single
refusal, and monitoring sees the out-of-range rate."""

import io
from datetime import timedelta

import joblib
import pandas as pd
import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.deployments.models import Deployment
from apps.deployments.services import deployment_request, deployment_rollout_run
from apps.monitoring.models import CheckRun
from apps.monitoring.references import reference_profile_build
from apps.monitoring.runs import check_run_enqueue, check_run_execute
from apps.monitoring.services import monitor_for_live_deployment
from apps.monitoring.windows import windows_profile_deployment
from apps.packaging.bundle.templates.schema_check import first_errors
from apps.packaging.services import package_build_enqueue, package_build_run
from apps.registry.services import Registration, version_register
from apps.serving.ingest import drain
from apps.serving.logbuffer import open_buffer
from apps.serving.models import Prediction, RejectedRequest
from tests import model_zoo
from tests.conftest import DATA, SCRAPER, wait_for
from tests.shared_data import require

pytestmark = pytest.mark.django_db(transaction=True)


def _deploy(version, endpoint: str) -> Deployment:
    dana = get_user_model().objects.get(username="dana")
    deployment = deployment_request(user=dana, version=version, endpoint=endpoint, environment="staging")
    deployment_rollout_run(deployment=Deployment.objects.get(pk=deployment.pk), step=lambda p, m: None)
    return Deployment.objects.select_related("endpoint", "version").get(pk=deployment.pk)


def _predict(url: str, endpoint: str, records: list[dict], *, query: str = "", request_id=None):
    headers = {"X-Request-ID": request_id} if request_id else {}
    return requests.post(
        f"{url}/v1/endpoints/{endpoint}/predict?environment=staging{query}",
        json={"records": records},
        headers=headers,
        timeout=60,
    )


def _outside_counts(url: str, endpoint: str) -> dict[tuple[str, str], float]:
    """inference_outside_range_values_total by (field, problem), summed over the workers."""
    text = requests.get(f"{url}/metrics", headers=SCRAPER, timeout=10).text
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "inference_outside_range_values_total"
                and sample.labels["endpoint"] == endpoint
            ):
                key = (sample.labels["field"], sample.labels["problem"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def _bounds(version, name: str) -> tuple[float, float]:
    feature = next(f for f in version.input_schema["features"] if f["name"] == name)
    return feature["min"], feature["max"]


def test_outside_values_are_scored_and_counted_refused_when_the_endpoint_opts_in_and_partial_scores(
    packaged_version, credit_frame, api_for, start_inference_service
):
    version = packaged_version()
    deployment = _deploy(version, "credit-risk")
    frame = model_zoo.training_frame(credit_frame)
    good = [
        {name: value.item() if hasattr(value, "item") else value for name, value in row.items()}
        for row in frame[model_zoo.FEATURES].head(4).to_dict("records")
    ]
    old = {**good[1], "Age": int(_bounds(version, "Age")[1]) + 30}
    dear = {**good[2], "Price": int(_bounds(version, "Price")[1]) * 3}
    url = start_inference_service()
    wait_for(lambda: _predict(url, "credit-risk", good[:1]).status_code == 200, timeout=60)

    # By default: scored, and counted per feature by the workers that scored them.
    for record in (old, dear):
        answer = _predict(url, "credit-risk", [good[0], record])
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 2
    assert _outside_counts(url, "credit-risk") == {("Age", "above_max"): 1.0, ("Price", "above_max"): 1.0}

    # The team opts in for Age: within a route refresh Age refuses, Price still scores.
    dana = api_for(get_user_model().objects.get(username="dana"))
    changed = dana.patch(
        f"/api/v1/endpoints/{deployment.endpoint_id}/", {"refuse_outside_range": ["Age"]}, format="json"
    )
    assert changed.status_code == 200, changed.json()

    def refused_on_every_worker():
        return all(_predict(url, "credit-risk", [old]).status_code == 422 for _ in range(6))

    wait_for(refused_on_every_worker, timeout=30)
    refused = _predict(url, "credit-risk", [good[0], old])
    assert refused.json()["errors"] == [
        f"records[1].Age: above the allowed maximum {_bounds(version, 'Age')[1]}"
    ]
    assert _predict(url, "credit-risk", [dear]).status_code == 200

    # Partial scoring: the records that fit are answered at their indices, the others listed.
    records = [good[0], old, {**good[3], "Age": "thirty"}, dear]
    answer = _predict(url, "credit-risk", records, query="&partial=true", request_id="partial-1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["refused"] == [1, 2] and body["error_count"] == 2
    assert body["errors"] == [
        f"records[1].Age: above the allowed maximum {_bounds(version, 'Age')[1]}",
        "records[2].Age: expected integer",
    ]
    assert body["predictions"][1] is None and body["predictions"][2] is None
    assert body["predictions"][0] is not None and body["predictions"][3] is not None

    buffer = open_buffer()

    def logged() -> list[Prediction]:
        drain(buffer, max_batches=None)
        rows = list(Prediction.objects.filter(request_id="partial-1").order_by("row"))
        return rows if len(rows) == 2 else []

    stored = wait_for(logged, timeout=30)
    assert [(p.row, p.inputs) for p in stored] == [(0, records[0]), (3, records[3])]
    assert [p.prediction for p in stored] == [body["predictions"][0], body["predictions"][3]]
    rejected = RejectedRequest.objects.get(request_id="partial-1")
    assert rejected.errors == body["errors"]


# --- real loans: trained on 2016, scored on 2018 -------------------------------------------------

NUMERIC = ["funded_amnt", "int_rate", "annual_inc", "delinq_2yrs", "inq_last_12m"]
CATEGORICAL = ["term", "sub_grade", "verification_status"]
# The 2018 file's names for the same fields (see ../shared/data/README.md).
FROM_2018 = {
    "loan_amount": "funded_amnt",
    "interest_rate": "int_rate",
    "annual_income": "annual_inc",
    "delinq_2y": "delinq_2yrs",
    "inquiries_last_12m": "inq_last_12m",
    "sub_grade": "sub_grade",
}
REQUEST_ROWS = 500
REQUESTS = 8


@pytest.fixture(scope="module")
def loans():
    """(2016 applications with their Class, 2018 applications in the 2016 names and codings)."""
    early, late = (
        DATA / "credit" / "lending_club_2016q1.csv",
        DATA / "credit" / "loans_full_schema_2018q1.csv",
    )
    require(early), require(late)
    train = pd.read_csv(early)[NUMERIC + CATEGORICAL + ["Class"]]
    raw = pd.read_csv(late)
    later = raw[list(FROM_2018)].rename(columns=FROM_2018)
    later["term"] = "term_" + raw["term"].astype(str)
    later["verification_status"] = raw["verified_income"].str.replace(" ", "_")
    return train, later[NUMERIC + CATEGORICAL]


def _loan_model(train: pd.DataFrame) -> bytes:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), NUMERIC),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                    ]
                ),
            ),
            ("classify", LogisticRegression(max_iter=1000)),
        ]
    ).fit(train[NUMERIC + CATEGORICAL], train["Class"])
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def test_2018_loans_scored_by_a_2016_model_are_all_scored_and_monitoring_sees_the_shift(
    loans, make_user, start_inference_service
):
    train, later = loans
    dana = make_user("dana")
    model_bytes = _loan_model(train)
    version = version_register(
        user=dana,
        reg=Registration(
            model_name="loan-default",
            task_type="binary_classification",
            artifact=io.BytesIO(model_bytes),
            artifact_filename="model.joblib",
            environment=model_zoo.environment("model.joblib", model_bytes),
            reference=io.BytesIO(train.to_csv(index=False).encode()),
            reference_filename="loans-2016q1.csv",
            target="Class",
        ),
    )
    build = package_build_run(build=package_build_enqueue(version=version), step=lambda p, m: None)
    assert build.validation_passed, build.report
    deployment = _deploy(version, "loans")
    url = start_inference_service()

    rows = later.sample(REQUEST_ROWS * REQUESTS, random_state=7).reset_index(drop=True)
    batches = [
        [{k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()} for record in chunk]
        for chunk in (
            rows.iloc[i : i + REQUEST_ROWS].to_dict("records") for i in range(0, len(rows), REQUEST_ROWS)
        )
    ]
    # What today's rule (every feature refusing values outside the 2016 range) would have done.
    everything = {f["name"] for f in version.input_schema["features"]}
    refused_before = sum(
        bool(first_errors(batch, version.input_schema, limit=1, refuse_outside=everything)[0])
        for batch in batches
    )
    assert refused_before == REQUESTS  # every 500-row request held a rate outside 2016's range

    # The service answers once it has its routes (the deployment was live before it started), so
    # no warm-up request: the log then holds exactly these rows.
    answers = [_predict(url, "loans", batch, request_id=f"loans-2018-{i}") for i, batch in enumerate(batches)]
    assert [a.status_code for a in answers] == [200] * REQUESTS, [a.text[:300] for a in answers]

    low, high = _bounds(version, "int_rate")
    below, above = int((rows["int_rate"] < low).sum()), int((rows["int_rate"] > high).sum())
    beyond = below + above
    assert beyond > 0.01 * len(rows)  # about 2 % of 2018's rates lie outside 2016's range
    counts = _outside_counts(url, "loans")
    assert (counts[("int_rate", "below_min")], counts[("int_rate", "above_max")]) == (below, above)

    buffer = open_buffer()

    def stored() -> bool:
        drain(buffer, max_batches=None)
        return Prediction.objects.filter(deployment_id=deployment.pk).count() == len(rows)

    wait_for(stored, timeout=60)
    assert not RejectedRequest.objects.filter(endpoint="loans").exists()
    monitor = monitor_for_live_deployment(deployment=deployment)
    assert reference_profile_build(version=version).status == "ready"
    assert windows_profile_deployment(deployment=deployment, settle=0) == len(rows)
    run = check_run_execute(
        run=check_run_enqueue(monitor=monitor, window="day", end=timezone.now() + timedelta(hours=1))
    )
    assert run.status == CheckRun.Status.SUCCEEDED, run.error
    finding = run.findings.get(check_name="out_of_range", feature="int_rate")
    assert finding.details["current_count"] == beyond
    assert finding.details["current_rate"] == pytest.approx(beyond / len(rows))
    assert finding.n_current == len(rows) and finding.flagged
    print(
        f"\n2018 loans on a 2016 model: {REQUESTS} requests of {REQUEST_ROWS}; refused before "
        f"{refused_before}, now {sum(a.status_code != 200 for a in answers)}; int_rate outside 2016's "
        f"range {beyond} ({below} below, {above} above: {beyond / len(rows):.2%}), monitoring: "
        f"{finding.details['current_rate']:.2%}, "
        f"p = {finding.p_value:.3g}, flagged {finding.flagged}"
    )
