"""The explanation panel and the API show what stats/slice_exclusive.py stored: overlapping slices as
variants under their explanation, each explanation's exclusive share and the overlap rule; an
analysis stored before (each slice's own, overlapping share) still renders, with a plain warning."""

import numpy as np
import pandas as pd
import pytest

from apps.monitoring.models import SliceAnalysis
from apps.monitoring.stats.slice_exclusive import merge_overlapping
from apps.monitoring.stats.slices import Condition, Slice, SliceMetric, find_slices
from tests.integration.access.world import build_world

pytestmark = pytest.mark.django_db

APPROVAL = SliceMetric.prediction_share("good", words="approval rate")


def stored_result() -> dict:
    """The finder's result on two synthetic windows with one planted slice, merged: what the task
    stores (explain._execute)."""
    rng = np.random.default_rng(4)
    n = 6000

    def frame():
        return pd.DataFrame(
            {
                "home": rng.choice(["rent", "own", "other"], n, p=[0.3, 0.5, 0.2]),
                "age": rng.integers(20, 70, n).astype(float),
                "job": rng.choice(["fixed", "partime"], n, p=[0.85, 0.15]),
                "__prediction__": np.where(rng.random(n) < 0.7, "good", "bad"),
            }
        )

    reference, current = frame(), frame()
    for side in (reference, current):  # a second name for nearly the same rows: "tenant" is mostly "rent"
        side["tenant"] = np.where((side["home"] == "rent") ^ (rng.random(n) < 0.05), "yes", "no")
    planted = Slice.of(
        Condition("home", "category", value="rent"), Condition("age", "range", low=30.0, high=40.0)
    )
    flip = planted.mask(current) & (current["__prediction__"] == "good").to_numpy() & (rng.random(n) < 0.8)
    current.loc[flip, "__prediction__"] = "bad"
    features = [{"name": "home", "type": "categorical"}, {"name": "age", "type": "number"}]
    features += [{"name": "job", "type": "categorical"}, {"name": "tenant", "type": "categorical"}]
    result = find_slices(
        reference, current, metric=APPROVAL, features=features, edges={"age": [30, 40, 50, 60]}
    )
    merged = merge_overlapping(result, reference, current, APPROVAL)
    assert any(e.variants for e in merged.explanations), [e.sentence for e in result.explanations]
    return merged.to_dict()


def old_shape(stored: dict) -> dict:
    """As an analysis stored before the merge step: every slice listed with its own share."""
    flat = []
    for e in stored["explanations"]:
        for x in (e, *e["variants"]):
            flat.append(
                {
                    k: v
                    for k, v in x.items()
                    if not k.startswith("exclusive") and k not in ("variants", "jaccard")
                }
            )
    return {**{k: v for k, v in stored.items() if k != "overlap"}, "explanations": flat}


@pytest.fixture
def aurora():
    world = build_world()
    analysis = SliceAnalysis.objects.get(alert=world.objects[("aurora", "alert")])
    return world, analysis


def test_the_panel_lists_variants_under_their_explanation_with_exclusive_shares(client, aurora, api_for):
    world, analysis = aurora
    stored = stored_result()
    analysis.explanations = stored
    analysis.metric = APPROVAL.to_dict()
    analysis.overall = stored["overall"]
    analysis.save()
    client.force_login(world.users["own"])
    page = client.get(f"/monitoring/alerts/{analysis.alert_id}/explanations/?analysis={analysis.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="explain-overlap-rule"' in html and "Jaccard ≥ 0.5" in html
    assert "explain-overlap-warning" not in html
    assert html.count('data-testid="explanation"') == len(stored["explanations"])
    variants = [v for e in stored["explanations"] for v in e["variants"]]
    assert html.count('data-testid="explanation-variant"') == len(variants)
    for v in variants:
        assert v["sentence"] in html and "Jaccard" in v["sentence"]
    first = stored["explanations"][0]
    assert f"{round(first['exclusive_contribution'] * 100)}% of the overall change" in html
    shares = [e["exclusive_contribution"] for e in stored["explanations"]]
    assert sum(shares) <= 1 and f"Listed shares together: {round(sum(shares) * 100)}%" in html

    # The API hands back the same stored shape.
    api = api_for(world.users["own"]).get(f"/api/v1/alerts/{analysis.alert_id}/explanations/{analysis.pk}/")
    assert api.status_code == 200
    body = api.json()["explanations"]
    assert body["overlap"]["jaccard"] == 0.5
    assert [len(e["variants"]) for e in body["explanations"]] == [
        len(e["variants"]) for e in stored["explanations"]
    ]
    assert body["explanations"][0]["exclusive_contribution"] == pytest.approx(first["exclusive_contribution"])


def test_an_analysis_stored_before_the_merge_still_renders_and_says_shares_may_overlap(client, aurora):
    world, analysis = aurora
    stored = old_shape(stored_result())
    analysis.explanations = stored
    analysis.metric = APPROVAL.to_dict()
    analysis.overall = stored["overall"]
    analysis.save()
    client.force_login(world.users["own"])
    html = client.get(
        f"/monitoring/alerts/{analysis.alert_id}/explanations/?analysis={analysis.pk}"
    ).content.decode()
    assert 'data-testid="explain-overlap-warning"' in html and "more than 100 %" in html
    assert html.count('data-testid="explanation"') == len(stored["explanations"])
    assert "explanation-variant" not in html
    first = stored["explanations"][0]
    assert f"{round(first['contribution'] * 100)}% of the overall change" in html
