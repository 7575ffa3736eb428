"""Endpoints with a minute-by-minute history of service levels, as ingestion would have stored it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.deployments.models import Endpoint, Environment
from apps.sla import stats
from apps.sla.models import SlaRollup, WorkerSample


def store_minutes(
    endpoint: Endpoint, *, minutes: int = 30, per_minute: int = 120, errors_every: int = 10, version=1
):
    """``minutes`` minutes up to now, each with ``per_minute`` requests around 4 ms (a slow tail
    of 2 % at 60 ms) and one server error every ``errors_every`` minutes."""
    now = timezone.now().replace(second=0, microsecond=0)
    rows = []
    for m in range(minutes):
        buckets = stats.empty()
        slow = per_minute // 50
        buckets[stats.bucket_of(4.0)] = per_minute - slow
        buckets[stats.bucket_of(60.0)] = slow
        rows.append(
            SlaRollup(
                endpoint=endpoint.name,
                environment=endpoint.environment.name,
                version_number=version,
                minute=now - timedelta(minutes=m + 1),
                count=per_minute,
                errors=1 if m % errors_every == 0 else 0,
                client_errors=2,
                latency_sum_ms=4.0 * per_minute,
                buckets=buckets,
            )
        )
    SlaRollup.objects.bulk_create(rows)


@pytest.fixture
def people(make_user):
    return {
        "dana": make_user("dana"),
        "mark": make_user("mark", team="Customer Insights"),
        "ivan": make_user("ivan", Role.IT_OPERATOR, team=None),
    }


@pytest.fixture
def credit(people):
    team = people["dana"].teams.get()
    production = Environment.objects.get(name="production")
    endpoint = Endpoint.objects.create(environment=production, name="credit-risk", team=team)
    store_minutes(endpoint)
    now = timezone.now()
    WorkerSample.objects.bulk_create(
        WorkerSample(
            host="inference-1",
            pid=pid,
            ts=now - timedelta(seconds=5 * i),
            cpu_seconds=100.0 - i,
            cpu_percent=10.0 + pid % 7,
            rss_bytes=(120 + pid % 5) << 20,
            requests=30,
        )
        for pid in (4101, 4102)
        for i in range(1, 60)
    )
    return endpoint
