"""Roll-ups, KPI alerts and impact against the real database: values equal a pandas computation of
the same rows, late outcomes revise points, out-of-band opens one alert, bad data never crashes."""

from datetime import timedelta

import pytest
from django.core import mail
from scipy import stats as sps

from apps.kpis.alerts import kpi_alert_act
from apps.kpis.impact import kpi_impact
from apps.kpis.models import KpiAlert, KpiNotification, KpiPoint
from apps.kpis.rollup import kpi_rollup
from apps.kpis.selectors import kpi_summary
from apps.kpis.services import kpi_create
from apps.monitoring.models import NotificationDelivery
from apps.notices.models import Notice
from apps.serving.ingest import ingest_batch
from apps.serving.models import Outcome
from apps.serving.outcomes import OutcomesAnswer, outcomes_submit
from tests.integration.kpis.conftest import (
    APPROVAL,
    DAY1,
    DAY2,
    DEFAULT_AMONG_APPROVED,
    PROFIT,
    outcome_records,
    records,
    with_ids,
)

pytestmark = pytest.mark.django_db


def make_kpi(world, name, kind, params, **extra):
    return kpi_create(
        user=world["dana"], model=world["model"], name=name, endpoint="credit-risk", environment="production",
        kind=kind, params=params, **extra,
    )  # fmt: skip


@pytest.fixture
def two_days(world, scored):
    """600 applications on DAY1 and 600 on DAY2 under v1; outcomes for all of DAY1, half of DAY2."""
    day1, day2 = with_ids(scored.iloc[:600]), with_ids(scored.iloc[600:1200])
    assert ingest_batch(records(day1, world["v1"], DAY1) + records(day2, world["v1"], DAY2)) == 1200
    answer = outcomes_submit(
        user=world["dana"], records=outcome_records(day1) + outcome_records(day2.iloc[:300])
    )
    assert answer == OutcomesAnswer(accepted=900)
    return day1, day2


def test_values_equal_pandas(world, two_days):
    day1, day2 = two_days
    approval = make_kpi(world, "Approval rate", "share", APPROVAL, unit="percent")
    default = make_kpi(world, "Default rate among approved", "rate_among", DEFAULT_AMONG_APPROVED)
    profit = make_kpi(world, "Expected profit", "mean", PROFIT, unit="currency", currency="EUR")
    for kpi in (approval, default, profit):
        assert len(kpi_rollup(kpi=kpi, settle=0)) == 2

    for day, frame, labelled in ((DAY1, day1, day1), (DAY2, day2, day2.iloc[:300])):
        point = approval.points.get(start=day)
        approved = (frame["prediction"] == "good").sum()
        assert (point.numerator, point.denominator, point.n) == (approved, 600, 600)
        assert point.value == pytest.approx(approved / 600)
        ci = sps.binomtest(int(approved), 600).proportion_ci(method="wilson")
        assert (point.interval_low, point.interval_high) == pytest.approx((ci.low, ci.high))

        point = default.points.get(start=day)
        among = labelled[labelled["prediction"] == "good"]
        assert point.denominator == len(among)
        assert point.value == pytest.approx((among["Status"] == "bad").mean())
        if day == DAY2:
            assert (
                point.labelled == 300 and "300 of 600 predictions still wait for an outcome" in point.message
            )

        point = profit.points.get(start=day)
        values = labelled["Amount"].where(labelled["Status"] == "good", 0) * 0.1 - labelled["Amount"].where(
            labelled["Status"] == "bad", 0
        )
        assert point.value == pytest.approx(values.mean())
        low, high = sps.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=sps.sem(values))
        assert (point.interval_low, point.interval_high) == pytest.approx((low, high))


def test_late_outcomes_revise_the_point_and_reruns_change_nothing(world, two_days):
    day1, day2 = two_days
    kpi = make_kpi(world, "Default rate among approved", "rate_among", DEFAULT_AMONG_APPROVED)
    first = {p.start: p.value for p in kpi_rollup(kpi=kpi, settle=0)}
    again = kpi_rollup(kpi=kpi, settle=0)  # idempotent: recomputing a window changes nothing
    assert {p.start: p.value for p in again} == {
        k: v for k, v in first.items() if k in {p.start for p in again}
    }
    assert all(p.revisions == 0 for p in kpi.points.all())
    before = kpi.points.get(start=DAY2)

    outcomes_submit(
        user=world["dana"], records=outcome_records(day2.iloc[300:])
    )  # the rest of DAY2's outcomes, late
    written = kpi_rollup(kpi=kpi, settle=0)
    assert DAY2 in [p.start for p in written]  # the window those predictions belong to
    after = kpi.points.get(start=DAY2)
    among = day2[day2["prediction"] == "good"]
    assert after.value == pytest.approx((among["Status"] == "bad").mean())
    assert after.denominator > before.denominator and after.labelled == 600
    assert (before.revisions, after.revisions) == (0, 1)
    assert kpi.points.get(start=DAY1).revisions == 0


def test_out_of_band_opens_one_alert_to_the_owner_and_repeats_do_not_duplicate(world, two_days):
    kpi = make_kpi(
        world, "Approval rate", "share", APPROVAL, unit="percent", target=0.95, band_low=0.9, band_high=1
    )
    assert kpi.owner == world["bea"]  # a data scientist's KPI is owned by the model's sponsor
    kpi_rollup(kpi=kpi, settle=0)
    point = kpi.points.get(start=DAY2)
    assert point.status == KpiPoint.Status.OUT_OF_BAND
    alert = KpiAlert.objects.get(kpi=kpi)
    assert (alert.state, alert.occurrences, alert.latest_point_id) == ("open", 1, point.pk)
    assert alert.severity == "high"  # the whole interval is below the band
    assert "below its band (90.0%)" in alert.summary
    sent = NotificationDelivery.objects.filter(kpi_notification__alert=alert)
    assert not sent.exists()  # dana's team has no channel of its own
    # The owner (the sponsor) hears of it in person: a notice, mailed as her preference says.
    assert [(n.kind, n.event) for n in Notice.objects.filter(recipient=world["bea"])] == [
        ("kpi_alert", "alert.opened")
    ]

    kpi_rollup(kpi=kpi, settle=0)
    from apps.kpis.alerts import kpi_alert_check

    kpi_alert_check(kpi=kpi)
    assert KpiAlert.objects.filter(kpi=kpi).count() == 1
    assert KpiAlert.objects.get(kpi=kpi).occurrences == 1  # the same window again is not a new occurrence
    assert KpiNotification.objects.count() == sent.count()

    kpi_alert_act(user=world["bea"], alert=alert, action="acknowledge")
    kpi_alert_act(user=world["bea"], alert=alert, action="resolve", reason="pricing change explains it")
    alert.refresh_from_db()
    assert alert.state == "resolved" and [a.action for a in alert.actions.all()] == ["acknowledge", "resolve"]
    assert len(mail.outbox) == 0  # deliveries are sent by the worker after the commit, not inline


def test_a_new_band_rerates_stored_windows_and_may_open_an_alert(
    world, two_days, django_capture_on_commit_callbacks
):
    from apps.kpis.services import kpi_update

    kpi = make_kpi(world, "Approval rate", "share", APPROVAL, unit="percent", band_low=0.0, band_high=1)
    kpi_rollup(kpi=kpi, settle=0)
    assert set(kpi.points.values_list("status", flat=True)) == {KpiPoint.Status.OK}
    with django_capture_on_commit_callbacks(execute=True):
        kpi_update(user=world["bea"], kpi=kpi, band_low=0.9)
    assert set(kpi.points.values_list("status", flat=True)) == {KpiPoint.Status.OUT_OF_BAND}
    assert KpiAlert.objects.get(kpi=kpi).state == "open"


def test_empty_subset_and_unknown_fields_are_shown_not_crashed(world, two_days):
    kpi = make_kpi(
        world,
        "Default among 'maybe'",
        "rate_among",
        {"among": 'prediction == "maybe"', "condition": 'outcome == "bad"'},
    )
    points = kpi_rollup(kpi=kpi, settle=0)
    assert {p.status for p in points} == {"insufficient"} and all(p.value is None for p in points)
    assert 'no prediction in this window meets prediction == "maybe"' in points[0].message

    # A definition broken behind the service's back (e.g. edited in the database) is a problem on the KPI.
    type(kpi).objects.filter(pk=kpi.pk).update(params={"among": "prediction ==", "condition": "1"})
    kpi.refresh_from_db()
    assert kpi_rollup(kpi=kpi, settle=0) == []
    kpi.refresh_from_db()
    assert "cannot be computed" in kpi.problem and "params.among" in kpi.problem


def test_outcomes_for_unknown_requests_are_counted_on_the_kpi(world, two_days):
    kpi = make_kpi(world, "Default rate among approved", "rate_among", DEFAULT_AMONG_APPROVED)
    ghost = [{"endpoint": "credit-risk", "request_id": "ghost-1", "value": "bad"}]
    assert outcomes_submit(user=world["dana"], records=ghost) == OutcomesAnswer(
        accepted=0, unknown=["ghost-1"]
    )
    Outcome.objects.create(
        endpoint="credit-risk", environment="production", request_id="ghost-2", value="bad"
    )  # a pruned prediction's
    Outcome.objects.create(
        endpoint="credit-risk",
        environment="production",
        request_id=two_days[0]["request_id"].iloc[0],
        row=7,
        value="bad",
    )
    kpi_rollup(kpi=kpi, settle=0)
    kpi.refresh_from_db()
    assert kpi.unmatched_outcomes == 2
    assert "2 outcomes matched no prediction" in kpi_summary(kpi)["notes"]


def test_impact_between_two_periods_with_segments_by_hand(world, two_days):
    day1, day2 = two_days
    kpi = make_kpi(world, "Approval rate", "share", APPROVAL)
    result = kpi_impact(
        kpi=kpi,
        before=(DAY1, DAY1 + timedelta(days=1)),
        after=(DAY2, DAY2 + timedelta(days=1)),
        segment="inputs.Home",
    )
    k1, k2 = (day1["prediction"] == "good").sum(), (day2["prediction"] == "good").sum()
    z = sps.norm.ppf(0.975)

    def wilson(k, n):
        p = k / n
        centre, half = (
            (p + z * z / (2 * n)) / (1 + z * z / n),
            z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5,
        )
        return centre - half, centre + half

    (l1, u1), (l2, u2) = wilson(k1, 600), wilson(k2, 600)
    p1, p2 = k1 / 600, k2 / 600
    assert result["difference"] == pytest.approx(p2 - p1)
    assert result["low"] == pytest.approx(p2 - p1 - ((p2 - l2) ** 2 + (u1 - p1) ** 2) ** 0.5)
    assert result["high"] == pytest.approx(p2 - p1 + ((u2 - p2) ** 2 + (p1 - l1) ** 2) ** 0.5)
    assert result["method"] == "newcombe" and result["before"]["rows"] == 600

    rent = next(s for s in result["segments"] if s["segment"] == "rent")
    r1, r2 = day1[day1["Home"] == "rent"], day2[day2["Home"] == "rent"]
    assert rent["rows_before"] == len(r1) and rent["rows_after"] == len(r2)
    assert rent["difference"] == pytest.approx(
        (r2["prediction"] == "good").mean() - (r1["prediction"] == "good").mean()
    )


def test_impact_of_a_version_change(world, scored):
    """v2 goes live on DAY3: the week before against the days after, from the deployment alone."""
    from tests.integration.kpis.conftest import DAY3

    before, after = with_ids(scored.iloc[:500]), with_ids(scored.iloc[500:900])
    after.loc[after.index[:150], "prediction"] = "bad"  # v2 turns down more applicants
    ingest_batch(records(before, world["v1"], DAY3 - timedelta(days=2)) + records(after, world["v2"], DAY3))
    kpi = make_kpi(world, "Approval rate", "share", APPROVAL)
    result = kpi_impact(kpi=kpi, deployment=world["v2"], days=3)
    assert result["mode"] == "deployment"
    assert (result["before"]["rows"], result["after"]["rows"]) == (500, 400)
    expected = (after["prediction"] == "good").mean() - (before["prediction"] == "good").mean()
    assert result["difference"] == pytest.approx(expected)
    assert result["high"] < 0  # the drop is more than noise
