"""The demo's monitoring history (tests/integration/monitoring_pages/conftest.py: dana's credit
model live in staging, a backfilled week with the planted slice in the last day, runs and alerts)
and the alert whose explanation the demo promises: the predicted "bad" share."""

import pytest

from apps.monitoring.models import Alert
from tests.integration.monitoring_pages.conftest import PASSWORD, history, people  # noqa: F401

PLANTED = ("Home", "Income")


def bad_share_alert(monitor) -> Alert:
    return Alert.objects.get(monitor=monitor, check_name="class_share", feature="__prediction__")


def is_planted(slice_dict: dict) -> bool:
    """The demo's planted slice: Home = rent and Income below its first edge, nothing else."""
    conditions = {c["feature"]: c for c in slice_dict["conditions"]}
    if sorted(conditions) != sorted(PLANTED):
        return False
    home, income = conditions["Home"], conditions["Income"]
    return home.get("value") == "rent" and income["kind"] == "range" and income.get("low") is None


@pytest.fixture
def password():
    return PASSWORD
