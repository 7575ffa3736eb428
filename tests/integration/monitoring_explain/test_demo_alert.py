"""The demo's alert explains itself: the planted slice comes first."""

import pytest

from apps.monitoring.models import SliceAnalysis
from tests.integration.monitoring_explain.conftest import bad_share_alert, is_planted

pytestmark = pytest.mark.django_db


def test_the_demo_alert_names_the_planted_slice_first(history):
    alert = bad_share_alert(history)
    analysis = SliceAnalysis.objects.filter(alert=alert, parent=None, run__window="day").latest("created_at")
    assert analysis.status == "succeeded", analysis.error
    listed = analysis.explanation_list
    for e in listed[:5]:
        print(e["sentence"])
    assert listed and is_planted(listed[0]["slice"]), [e["sentence"] for e in listed[:3]]
    first = listed[0]
    assert first["metric_current"] > first["metric_reference"] + 0.2
    assert first["adjusted_p"] <= analysis.q and first["contribution"] >= 0.5
    assert analysis.tests_run > 100 and analysis.metric["value"] == "bad"
    # Each prediction counted once: no two listed explanations overlap strongly, shares ≤ 100 %.
    overlap = analysis.explanations["overlap"]
    assert overlap["jaccard"] == 0.5 and "Jaccard" in overlap["rule"]
    shares = [e["exclusive_contribution"] for e in listed]
    assert sum(shares) <= 1 + 1e-9 and overlap["shares_total"] == pytest.approx(sum(shares))
    assert first["exclusive_points"] == pytest.approx(first["contribution_points"])
