"""KPIs now read only their own model's deployments (apps/kpis/rollup.py: own_deployments). A KPI
defined before over an endpoint or deployments outside them may hold points and alerts computed
from another team's predictions: those are dropped and its watermarks reset, so the next roll-up
recomputes it from what it may read. Every other KPI keeps its history."""

from django.db import migrations
from django.db.models import F


def forget_points_read_across_teams(apps, schema_editor):
    KpiDefinition = apps.get_model("kpis", "KpiDefinition")
    Deployment = apps.get_model("deployments", "Deployment")
    for kpi in KpiDefinition.objects.all():
        own = set(
            Deployment.objects.filter(
                version__model_id=kpi.model_id,
                endpoint__name=kpi.endpoint,
                endpoint__environment__name=kpi.environment,
                endpoint__team_id=F("version__model__team_id"),
            ).values_list("pk", flat=True)
        )
        chosen = kpi.deployment_ids if isinstance(kpi.deployment_ids, list) else []
        if own and set(chosen) <= own:
            continue
        kpi.alerts.all().delete()
        kpi.points.all().delete()
        KpiDefinition.objects.filter(pk=kpi.pk).update(
            prediction_watermark=0, outcome_watermark=0, last_rollup_at=None, unmatched_outcomes=0
        )


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0002_endpoint_slo_moved_to_sla"),
        ("kpis", "0001_initial"),
    ]

    operations = [migrations.RunPython(forget_points_read_across_teams, migrations.RunPython.noop)]
