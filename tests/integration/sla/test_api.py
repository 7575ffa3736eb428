"""The SLA API: series and summary, SLO read and write, worker samples, and who may see what."""

import pytest

from apps.core.models import AuditEvent
from apps.sla.models import Slo

pytestmark = pytest.mark.django_db


def test_series_per_version_and_total_with_summary(api_for, people, credit):
    answer = api_for(people["ivan"]).get(
        "/api/v1/sla/", {"endpoint": "credit-risk", "environment": "production", "step": 300}
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["step_seconds"] == 300 and [v["version"] for v in body["versions"]] == [1]
    assert sum(p["count"] for p in body["total"]) == 30 * 120
    busy = next(p for p in body["total"] if p["count"] == 600)
    assert busy["rps"] == 2.0 and busy["p50"] < 5.0 and 40 < busy["p99"] < 80
    summary = body["summary"]
    assert summary["requests"] == 3600 and summary["errors"] == 3 and summary["client_errors"] == 60
    assert summary["availability"] == pytest.approx(1 - 3 / 3600)
    # the endpoint's default SLO until IT sets one: p99 ≤ 50 ms, 99.9 %
    assert body["slo"]["is_default"] and body["slo"]["availability_percent"] == pytest.approx(99.9)
    assert summary["budget_used"] == pytest.approx((3 / 3600) / 0.001)
    assert len(body["budget"]) == len(body["total"])


def test_bad_queries_name_the_field(api_for, people, credit):
    api = api_for(people["ivan"])
    missing = api.get("/api/v1/sla/")
    assert missing.status_code == 400 and "endpoint" in missing.json()
    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"step": 90}, "step"),
        ({"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "since"),
        ({"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, "since"),
    ):
        answer = api.get("/api/v1/sla/", {"endpoint": "credit-risk", **params})
        assert answer.status_code == 400, params
        assert field in answer.json() and answer.json()["detail"].startswith("Invalid input")


def test_another_teams_endpoint_is_not_found(api_for, people, credit):
    assert api_for(people["mark"]).get("/api/v1/sla/", {"endpoint": "credit-risk"}).status_code == 404
    assert api_for(people["mark"]).get(f"/api/v1/endpoints/{credit.pk}/slo/").status_code == 404
    assert api_for(people["dana"]).get("/api/v1/sla/", {"endpoint": "credit-risk"}).status_code == 200
    assert api_for(people["dana"]).get("/api/v1/sla/", {"endpoint": "nope"}).status_code == 404


def test_it_sets_the_slo_and_it_is_audited(api_for, people, credit):
    ivan = api_for(people["ivan"])
    answer = ivan.put(
        f"/api/v1/endpoints/{credit.pk}/slo/",
        {"latency_ms": 25, "latency_percentile": 95, "availability_percent": 99.5},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["set_by"] == "ivan" and not answer.json()["is_default"]
    slo = Slo.objects.get(endpoint=credit)
    assert (slo.latency_ms, slo.latency_percentile, slo.availability_percent) == (25, 95, 99.5)
    event = AuditEvent.objects.get(action="slo.set")
    assert event.actor == people["ivan"] and event.details["availability_percent"] == 99.5
    assert event.details["previous"] is None and event.team == credit.team
    listed = ivan.get("/api/v1/endpoints/", {"name": "credit-risk", "environment__name": "production"})
    assert listed.json()["results"][0]["slo"]["latency_percentile"] == 95

    series = ivan.get("/api/v1/sla/", {"endpoint": "credit-risk"}).json()
    assert series["slo"]["latency_percentile"] == 95
    assert series["summary"]["budget_used"] == pytest.approx((3 / 3600) / 0.005)


def test_only_it_changes_an_slo_and_bad_values_are_named(api_for, people, credit):
    dana = api_for(people["dana"])
    assert dana.get(f"/api/v1/endpoints/{credit.pk}/slo/").status_code == 200
    refused = dana.put(
        f"/api/v1/endpoints/{credit.pk}/slo/", {"latency_ms": 25, "availability_percent": 99}, format="json"
    )
    assert refused.status_code == 403
    ivan = api_for(people["ivan"])
    for values, field in (
        ({"latency_ms": 0, "availability_percent": 99}, "latency_ms"),
        ({"latency_ms": 10, "availability_percent": 100}, "availability_percent"),
        ({"latency_ms": 10, "availability_percent": 0}, "availability_percent"),
        ({"latency_ms": 10, "availability_percent": 99, "latency_percentile": 90}, "latency_percentile"),
        ({"availability_percent": 99}, "latency_ms"),
    ):
        answer = ivan.put(f"/api/v1/endpoints/{credit.pk}/slo/", values, format="json")
        assert answer.status_code == 400 and field in answer.json(), (values, answer.content)
    assert not Slo.objects.exists() and not AuditEvent.objects.filter(action="slo.set").exists()


def test_worker_samples_are_for_it(api_for, people, credit):
    answer = api_for(people["ivan"]).get("/api/v1/sla/workers/", {"step": 60})
    assert answer.status_code == 200
    workers = answer.json()["workers"]
    assert [(w["host"], w["pid"]) for w in workers] == [("inference-1", 4101), ("inference-1", 4102)]
    assert sum(s["requests"] for s in workers[0]["samples"]) == 59 * 30
    assert workers[0]["samples"][0]["rss_bytes"] == (120 + 4101 % 5) << 20
    assert api_for(people["dana"]).get("/api/v1/sla/workers/").status_code == 403
