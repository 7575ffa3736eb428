"""One outcome per prediction row, in its endpoint's environment, with the values it replaced.

Outcomes were keyed by endpoint name alone, and an outcome without a row covered its whole request,
so one prediction could have two (the request's and its row's). Existing rows are moved over:

- the environment is that of the predictions it was matched to (production when that is one);
- an outcome without a row becomes one per logged row of its request (row 0 when none is logged),
  except for the rows that have an outcome of their own, which wins;
- outcomes kept by a business key alone (never matched to a prediction, never read) are dropped.
"""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery


def one_row_per_prediction(apps, schema_editor):
    Outcome = apps.get_model("serving", "Outcome")
    Prediction = apps.get_model("serving", "Prediction")
    Outcome.objects.filter(request_id__isnull=True).delete()

    logged = Prediction.objects.filter(endpoint=OuterRef("endpoint"), request_id=OuterRef("request_id"))
    elsewhere = Outcome.objects.exclude(Exists(logged.filter(environment="production"))).filter(Exists(logged))
    elsewhere.update(environment=Subquery(logged.order_by("environment").values("environment")[:1]))

    same_request = Prediction.objects.filter(
        endpoint=OuterRef("endpoint"), environment=OuterRef("environment"), request_id=OuterRef("request_id")
    )
    row_zero = Outcome.objects.filter(
        endpoint=OuterRef("endpoint"), environment=OuterRef("environment"), request_id=OuterRef("request_id"), row=0
    )
    whole = Outcome.objects.filter(row__isnull=True)
    single = whole.exclude(Exists(same_request.exclude(row=0)))  # the usual case: one row, row 0
    single.filter(Exists(row_zero)).delete()
    single.update(row=0)
    for outcome in list(whole):  # requests that scored several rows: one outcome each
        rows = set(
            Prediction.objects.filter(
                endpoint=outcome.endpoint, environment=outcome.environment, request_id=outcome.request_id
            ).values_list("row", flat=True)
        )
        taken = set(
            Outcome.objects.filter(
                endpoint=outcome.endpoint,
                environment=outcome.environment,
                request_id=outcome.request_id,
                row__isnull=False,
            ).values_list("row", flat=True)
        )
        Outcome.objects.bulk_create(
            Outcome(
                endpoint=outcome.endpoint,
                environment=outcome.environment,
                request_id=outcome.request_id,
                row=row,
                business_key=outcome.business_key,
                value=outcome.value,
                observed_at=outcome.observed_at,
                received_at=outcome.received_at,
            )
            for row in sorted(rows - taken)
        )
        outcome.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_modelversion_holdout_data_and_more"),
        ("serving", "0003_outcome_request_index"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="outcome", name="serving_outcome_has_key"),
        migrations.RemoveConstraint(model_name="outcome", name="serving_outcome_once_per_row"),
        migrations.RemoveConstraint(model_name="outcome", name="serving_outcome_once_per_request"),
        migrations.RemoveConstraint(model_name="outcome", name="serving_outcome_once_per_key"),
        migrations.RemoveIndex(model_name="outcome", name="serving_outcome_key"),
        migrations.RemoveIndex(model_name="outcome", name="serving_outcome_request"),
        migrations.AddField(
            model_name="outcome",
            name="environment",
            field=models.CharField(default="production", max_length=50),
            preserve_default=False,
        ),
        migrations.RunPython(one_row_per_prediction, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="outcome",
            name="received_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(), help_text="when the current value arrived"
            ),
        ),
        migrations.AlterField(
            model_name="outcome", name="request_id", field=models.CharField(max_length=64)
        ),
        migrations.AlterField(model_name="outcome", name="row", field=models.IntegerField(default=0)),
        migrations.AddConstraint(
            model_name="outcome",
            constraint=models.UniqueConstraint(
                fields=("endpoint", "environment", "request_id", "row"),
                name="serving_outcome_once_per_prediction_row",
            ),
        ),
        migrations.CreateModel(
            name="OutcomeRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.JSONField()),
                ("observed_at", models.DateTimeField()),
                (
                    "audit_event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="registry.auditevent"
                    ),
                ),
                (
                    "outcome",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="revisions",
                        to="serving.outcome",
                    ),
                ),
            ],
            options={"ordering": ["outcome", "id"]},
        ),
    ]
