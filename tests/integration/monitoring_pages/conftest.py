"""dana's credit model live in staging with the demo's monitoring history: real credit rows scored
in the sandbox, a backfilled week with outcomes, the planted shift in the last day, window
profiles and check runs (apps/demo/monitoring_demo.py, the code ``make demo`` runs)."""

import pytest

from apps.accounts.roles import Role
from apps.demo.monitoring_demo import seed_monitoring
from apps.monitoring.models import Alert, CheckRun, Monitor
from apps.monitoring.runs import check_run_execute
from tests.integration.monitoring.conftest import register_and_deploy

PASSWORD = "pages-pass-1"


@pytest.fixture
def people(make_user):
    """dana (Credit Risk), mark (another team), bea (business owner of the model), ivan (IT)."""
    return {
        "dana": make_user("dana", password=PASSWORD),
        "mark": make_user("mark", team="Customer Insights", password=PASSWORD),
        "bea": make_user("bea", Role.BUSINESS_OWNER, team=None, password=PASSWORD),
        "ivan": make_user("ivan", Role.IT_OPERATOR, team=None, password=PASSWORD),
    }


@pytest.fixture
def history(people, credit_model_bytes, credit_frame):
    """The monitored deployment after the demo's backfill: its monitor and the open Income alert."""
    reference = credit_frame.sample(1500, random_state=11).reset_index(drop=True)
    deployment = register_and_deploy(people["dana"], model_bytes=credit_model_bytes, reference=reference)
    model = deployment.version.model
    model.business_owner = people["bea"]
    model.save(update_fields=["business_owner"])
    seed_monitoring(people, deployment=deployment, reference_wait=0)
    monitor = Monitor.objects.get(deployment=deployment)
    # The demo leaves the older runs to the worker; the daily ones are done here (in-process, the
    # same service the worker calls), the older hourly ones are not needed by these tests.
    for run in CheckRun.objects.filter(monitor=monitor, window="day", status=CheckRun.Status.QUEUED):
        check_run_execute(run=run)
    return monitor


def income_alert(monitor) -> Alert:
    return Alert.objects.get(monitor=monitor, check_name="drift", feature="Income")
