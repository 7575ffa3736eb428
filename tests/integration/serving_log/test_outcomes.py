"""Outcomes through their one service: joined by request id and row or by business key, only to
what the endpoint's own deployments logged in its environment; one outcome per prediction row,
written as an upsert; every write audited with the values it replaced."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from apps.accounts.roles import Role
from apps.core.models import AuditEvent
from apps.serving.ingest import ingest_batch
from apps.serving.models import Outcome, OutcomeRevision
from apps.serving.outcomes import OutcomesAnswer, outcomes_submit
from tests.integration.serving_log.conftest import START, deployed, records

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit(make_user):
    """dana's endpoint ``credit`` in production with five logged predictions (req-0 … req-4)."""
    dana = make_user("dana")
    deployment = deployed(dana.teams.get(), "credit")
    ingest_batch(records(5, deployment_id=deployment.pk))
    return dana, deployment


def send(user, outcomes, **options):
    return outcomes_submit(user=user, records=outcomes, **options)


def test_outcomes_join_by_request_id_or_business_key(credit):
    dana, _ = credit
    answer = send(
        dana,
        [
            {"endpoint": "credit", "request_id": "req-0", "value": 1},
            {"endpoint": "credit", "request_id": "req-1", "row": 0, "value": 0},
            {"endpoint": "credit", "request_id": "req-1", "row": 9, "value": 0},  # no such row
            {"endpoint": "credit", "request_id": "nobody", "value": 1},
        ],
    )
    assert answer == OutcomesAnswer(accepted=2, overwritten=0, unknown=["req-1", "nobody"])

    by_key = send(
        dana,
        [
            {"business_key": "c3", "value": 1, "observed_at": START.isoformat()},
            {"business_key": "c99", "value": 1},
        ],
        endpoint="credit",
        key_field="customer",
    )
    assert (by_key.accepted, by_key.unknown) == (1, ["c99"])
    joined = Outcome.objects.get(business_key="c3")
    assert (joined.request_id, joined.row, joined.value, joined.observed_at) == ("req-3", 0, 1, START)
    assert joined.environment == "production"

    corrected = send(dana, [{"request_id": "req-0", "value": 0}], endpoint="credit")  # a corrected label
    assert (corrected.accepted, corrected.overwritten) == (1, 1)
    assert Outcome.objects.get(request_id="req-0").value == 0
    assert Outcome.objects.count() == 3


def test_bad_outcomes_say_what_is_wrong(credit):
    dana, _ = credit
    with pytest.raises(ValidationError, match="request_id or a business_key"):
        send(dana, [{"endpoint": "credit", "value": 1}])
    with pytest.raises(ValidationError, match="needs key_field"):
        send(dana, [{"endpoint": "credit", "business_key": "c1", "value": 1}])
    with pytest.raises(ValidationError, match="req-1"):
        send(dana, [{"endpoint": "credit", "request_id": "req-1", "row": "first", "value": 1}])
    with pytest.raises(ValidationError, match="'credit' in staging"):
        send(dana, [{"request_id": "req-1", "value": 1}], endpoint="credit", environment="staging")
    assert not Outcome.objects.exists()


def test_outcomes_from_csv_cells_and_in_bulk(make_user):
    dana = make_user("dana")
    deployment = deployed(dana.teams.get(), "credit")
    ingest_batch(records(1200, deployment_id=deployment.pk))
    cells = [
        {
            "endpoint": "credit",
            "request_id": f"req-{i}",
            "row": "",
            "business_key": "",
            "value": "1",
            "observed_at": "",
        }
        for i in range(1100)
    ]
    assert send(dana, cells) == OutcomesAnswer(accepted=1100)
    again = send(dana, cells[:600] + [{**cells[0], "request_id": "req-5000"}])
    assert again == OutcomesAnswer(accepted=600, overwritten=0, unknown=["req-5000"])  # same values
    assert Outcome.objects.count() == 1100 and Outcome.objects.filter(business_key=None).count() == 1100
    assert not OutcomeRevision.objects.exists()


def test_an_outcome_without_a_row_covers_each_row_of_its_request_once(credit):
    dana, deployment = credit
    several = records(3, prefix="multi", deployment_id=deployment.pk)
    for row, record in enumerate(several):
        record.update(request_id="multi", row=row)
    ingest_batch(several)
    assert send(dana, [{"request_id": "multi", "row": 1, "value": "bad"}], endpoint="credit").accepted == 1
    answer = send(dana, [{"request_id": "multi", "value": "good"}], endpoint="credit")
    assert (answer.accepted, answer.overwritten) == (3, 1)
    stored = Outcome.objects.filter(request_id="multi").order_by("row")
    assert [(o.row, o.value) for o in stored] == [(0, "good"), (1, "good"), (2, "good")]
    assert OutcomeRevision.objects.get().value == "bad"


def test_one_prediction_row_keeps_one_outcome_the_later_and_the_earlier_is_kept(credit):
    """Issue 12, point 3: a whole-request outcome and a row's outcome were two conflicting rows."""
    dana, _ = credit
    send(dana, [{"request_id": "req-1", "value": "good"}], endpoint="credit")
    send(dana, [{"request_id": "req-1", "row": 0, "value": "bad"}], endpoint="credit")
    stored = Outcome.objects.get(request_id="req-1")  # exactly one row
    assert (stored.row, stored.value) == (0, "bad")
    revision = OutcomeRevision.objects.get(outcome=stored)
    assert revision.value == "good"
    assert revision.audit_event.actor == dana and revision.audit_event.details["overwritten"] == 1

    with pytest.raises(IntegrityError), transaction.atomic():
        Outcome.objects.create(
            endpoint="credit", environment="production", request_id="req-1", row=0, value="good"
        )


def test_outcomes_match_only_what_the_endpoints_own_deployments_logged(credit, make_user):
    """A record naming the endpoint but logged by another deployment (another team's, e.g. forged
    into the log) is not a prediction of the endpoint: an outcome for it is unknown."""
    dana, _ = credit
    mark = make_user("mark", team="Customer Insights")
    theirs = deployed(mark.teams.get(), "churn")
    ingest_batch(records(2, prefix="forged", deployment_id=theirs.pk))  # endpoint "credit" in the record
    answer = send(dana, [{"request_id": "forged-0", "value": 1}], endpoint="credit")
    assert answer == OutcomesAnswer(accepted=0, unknown=["forged-0"])


def test_an_it_operator_writes_outcomes_and_business_owners_do_not(credit, make_user):
    ivan = make_user("ivan", Role.IT_OPERATOR, team=None)
    assert send(ivan, [{"request_id": "req-2", "value": 1}], endpoint="credit").accepted == 1
    bea = make_user("bea", Role.BUSINESS_OWNER, team="Credit Risk")  # in the team, still not a writer
    with pytest.raises(PermissionDenied):
        send(bea, [{"request_id": "req-2", "value": 0}], endpoint="credit")
    assert Outcome.objects.get(request_id="req-2").value == 1
    assert AuditEvent.objects.filter(action="outcomes.written").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_uploads_at_once_leave_one_outcome_per_row_and_every_replaced_value(make_user):
    dana = make_user("dana")
    deployment = deployed(dana.teams.get(), "credit")
    ingest_batch(records(300, deployment_id=deployment.pk))
    errors = []
    start = threading.Barrier(2)

    def upload(value):
        try:
            start.wait()
            send(dana, [{"request_id": f"req-{i}", "value": value} for i in range(300)], endpoint="credit")
        except Exception as exc:  # reported below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(v,)) for v in ("good", "bad")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Outcome.objects.count() == 300
    first, second = AuditEvent.objects.filter(action="outcomes.written").order_by("id")
    assert (first.details["new"], second.details["overwritten"]) == (300, 300)
    final = set(Outcome.objects.values_list("value", flat=True))
    kept = set(OutcomeRevision.objects.filter(audit_event=second).values_list("value", flat=True))
    assert len(final) == 1 and len(kept) == 1 and final != kept  # the later wins, the earlier is kept
    assert OutcomeRevision.objects.count() == 300
