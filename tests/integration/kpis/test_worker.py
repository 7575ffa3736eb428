"""The beat's ``kpis.rollup`` task on a real Celery worker rolls up newly logged predictions and
outcomes, and a KPI alert's e-mail goes out through monitoring's notify task."""

import pytest

from apps.kpis.models import KpiAlert, KpiDefinition, KpiPoint
from apps.kpis.services import kpi_create
from apps.kpis.tasks import rollup
from apps.notices.models import Notice
from apps.serving.ingest import ingest_batch
from apps.serving.outcomes import outcomes_submit
from tests.conftest import wait_for
from tests.integration.kpis.conftest import (
    APPROVAL,
    DAY1,
    DAY2,
    DEFAULT_AMONG_APPROVED,
    outcome_records,
    records,
    with_ids,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def settle_now(monkeypatch):
    monkeypatch.setenv("MODELYARD_KPI_SETTLE_SECONDS", "0")


def test_beat_task_rolls_up_new_data(settle_now, celery_worker, world, scored):
    approval = kpi_create(
        user=world["dana"], model=world["model"], name="Approval rate", endpoint="credit-risk",
        kind="share", params=APPROVAL, band_low=0.9,
    )  # fmt: skip
    default = kpi_create(
        user=world["bea"], model=world["model"], name="Default among approved", endpoint="credit-risk",
        kind="rate_among", params=DEFAULT_AMONG_APPROVED,
    )  # fmt: skip
    day1, day2 = with_ids(scored.iloc[:500]), with_ids(scored.iloc[500:1000])
    ingest_batch(records(day1, world["v1"], DAY1) + records(day2, world["v1"], DAY2))
    rollup.delay()
    points = wait_for(
        lambda: KpiPoint.objects.filter(kpi=approval).count() == 2 and approval.points.all(), timeout=120
    )
    assert {p.value for p in points} == {
        (day1["prediction"] == "good").mean(),
        (day2["prediction"] == "good").mean(),
    }
    assert KpiAlert.objects.filter(kpi=approval, state="open").count() == 1
    # The owner's notice is e-mailed by the worker (her preference: at once, the default).
    notice = wait_for(
        lambda: Notice.objects.filter(
            recipient=world["bea"],
            kind="kpi_alert",
            object_id=approval.alerts.get().pk,
            emailed_at__isnull=False,
        ).first(),
        timeout=120,
    )
    assert notice.url == f"/kpis/{approval.pk}/"

    outcomes_submit(user=world["dana"], records=outcome_records(day1))
    rollup.delay()
    point = wait_for(lambda: default.points.filter(start=DAY1, status="ok").first(), timeout=120)
    among = day1[day1["prediction"] == "good"]
    assert point.value == pytest.approx((among["Status"] == "bad").mean())
    # The watermark moves after the points are written (a moment later on a loaded machine).
    assert wait_for(lambda: KpiDefinition.objects.get(pk=default.pk).outcome_watermark > 0, timeout=30)
