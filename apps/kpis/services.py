"""KPI definitions: create, change and delete, each checked field by field and audited.

A definition is checked against the model it belongs to: ``inputs.<field>`` must be a field of one
of the model's versions' input schemas, ``score`` needs a model that gives probabilities, the
endpoint must have a deployment of this model in the environment, and chosen deployments must be
this model's on it (apps/kpis/rollup.py reads nothing else, whatever a stored definition says). Every
problem is a ValidationError keyed by the field's path (``params.condition``, ``segments[0]``…)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts import access
from apps.accounts.roles import Role
from apps.core.audit import audit_record
from apps.kpis.definitions import CompiledKpi, DefinitionError, check_fields, compile_kpi
from apps.kpis.models import KpiDefinition
from apps.kpis.rollup import own_deployments

EDITABLE = (
    "name",
    "description",
    "endpoint",
    "environment",
    "deployment_ids",
    "kind",
    "params",
    "segments",
    "window",
    "unit",
    "currency",
    "decimals",
    "target",
    "band_low",
    "band_high",
    "owner",
    "enabled",
)
# Changing these changes what every point means: the roll-up starts again from the first prediction.
RECOMPUTE = {"endpoint", "environment", "deployment_ids", "kind", "params", "segments", "window"}


def model_fields(model) -> tuple[set[str], bool]:
    """(input field names over all the model's versions, whether any version gives probabilities)."""
    features: set[str] = set()
    has_scores = False
    for input_schema, output_schema in model.versions.values_list("input_schema", "output_schema"):
        features |= {f.get("name") for f in (input_schema or {}).get("features", []) if f.get("name")}
        outputs = (output_schema or {}).get("outputs", [])
        has_scores |= any(o.get("name") == "probabilities" for o in outputs)
    return features, has_scores


def compiled(kpi: KpiDefinition) -> CompiledKpi:
    return compile_kpi(kpi.kind, kpi.params, kpi.segments)


def _check_scope(kpi: KpiDefinition, errors: dict) -> None:
    """The endpoint must serve this model (a deployment of it, in the model's team); chosen
    deployments must be among those. The same words whether a name or an id does not exist or is
    another team's, so a refusal never confirms what another team has."""
    own = set(own_deployments(kpi).values_list("pk", flat=True))
    if not own:
        errors["endpoint"] = (
            f"{kpi.model.name} has no deployment on an endpoint named '{kpi.endpoint}' in {kpi.environment}"
        )
        return
    ids = kpi.deployment_ids
    if not isinstance(ids, list):
        errors["deployment_ids"] = "must be a list of deployment ids (numbers)"
        return
    for i, value in enumerate(ids):
        if not isinstance(value, int) or isinstance(value, bool):
            errors[f"deployment_ids[{i}]"] = f"{value!r} is not a deployment id (a number)"
        elif value not in own:
            errors[f"deployment_ids[{i}]"] = (
                f"{value}: not a deployment of {kpi.model.name} on {kpi.endpoint} ({kpi.environment})"
            )


def _check_target(kpi: KpiDefinition, errors: dict) -> None:
    low, high, target = kpi.band_low, kpi.band_high, kpi.target
    if low is not None and high is not None and low > high:
        errors["band_low"] = f"the band's low end ({low}) is above its high end ({high})"
    if target is not None and not ((low is None or target >= low) and (high is None or target <= high)):
        errors["target"] = f"the target {target} lies outside its own band [{low}, {high}]"
    if kpi.decimals > 6:
        errors["decimals"] = "at most 6"
    if kpi.kind in ("share", "rate_among") and kpi.unit == KpiDefinition.Unit.CURRENCY:
        errors["unit"] = "a share is a percent or a number, not an amount of money"


def kpi_validate(kpi: KpiDefinition) -> CompiledKpi:
    """Check every field of an unsaved or changed definition; ValidationError by field path."""
    errors: dict[str, str] = {}
    try:
        kpi.full_clean(exclude=["model", "owner", "created_by", "params", "segments", "deployment_ids"])
    except ValidationError as exc:
        errors |= {k: "; ".join(v) for k, v in exc.message_dict.items()}
    result = None
    try:
        result = compile_kpi(kpi.kind, kpi.params, kpi.segments)
    except DefinitionError as exc:
        errors |= exc.errors
    if result is not None:
        features, has_scores = model_fields(kpi.model)
        errors |= check_fields(result, features=features, has_scores=has_scores)
    _check_scope(kpi, errors)
    _check_target(kpi, errors)
    clash = KpiDefinition.objects.filter(model=kpi.model, name=kpi.name).exclude(pk=kpi.pk)
    if kpi.name and clash.exists():
        errors["name"] = f"{kpi.model.name} already has a KPI named '{kpi.name}'"
    if errors:
        raise ValidationError(errors)
    return result


def _owner_for(user, model, owner):
    if owner is not None:
        if not (access.has_role(owner, Role.BUSINESS_OWNER) or access.can_define_kpis(owner, model)):
            raise ValidationError({"owner": f"{owner.get_username()} may not own KPIs of {model.name}"})
        return owner
    if access.has_role(user, Role.BUSINESS_OWNER) or model.business_owner_id is None:
        return user
    return model.business_owner


def _enqueue_rollup(kpi: KpiDefinition) -> None:
    from apps.kpis.tasks import rollup_one

    transaction.on_commit(lambda: rollup_one.delay(kpi.pk), robust=True)


@transaction.atomic
def kpi_create(*, user, model, owner=None, **fields) -> KpiDefinition:
    """A new KPI of ``model`` (which the caller fetched through access). Its points are computed
    by a roll-up queued after the commit, from the first logged prediction on."""
    if not access.can_define_kpis(user, model):
        raise PermissionDenied("only the model's data scientists or the business owner who sponsors it")
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "not a KPI field" for name in sorted(unknown)})
    kpi = KpiDefinition(model=model, created_by=user, owner=_owner_for(user, model, owner), **fields)
    kpi_validate(kpi)
    kpi.save()
    audit_record(actor=user, action="kpi.created", obj=kpi, team=model.team, kind=kpi.kind, params=kpi.params)
    _enqueue_rollup(kpi)
    return kpi


@transaction.atomic
def kpi_update(*, user, kpi: KpiDefinition, **changes) -> KpiDefinition:
    """Change a KPI. A change to what it measures drops its points and rolls it up again."""
    if not access.can_define_kpis(user, kpi.model):
        raise PermissionDenied("only the model's data scientists or the business owner who sponsors it")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "not a KPI field" for name in sorted(unknown)})
    kpi = KpiDefinition.objects.select_for_update().select_related("model").get(pk=kpi.pk)
    if "owner" in changes:
        changes["owner"] = _owner_for(user, kpi.model, changes["owner"])
    before = {name: getattr(kpi, name) for name in changes}
    for name, value in changes.items():
        setattr(kpi, name, value)
    kpi_validate(kpi)
    changed = sorted(name for name in changes if before[name] != getattr(kpi, name))
    if not changed:
        return kpi
    if RECOMPUTE & set(changed):
        kpi.points.all().delete()
        kpi.prediction_watermark = kpi.outcome_watermark = 0
        kpi.last_rollup_at = None
    kpi.save()
    audit_record(
        actor=user,
        action="kpi.changed",
        obj=kpi,
        team=kpi.model.team,
        changed={k: str(getattr(kpi, k)) if k == "owner" else getattr(kpi, k) for k in changed},
    )
    if RECOMPUTE & set(changed):
        _enqueue_rollup(kpi)
    elif {"band_low", "band_high"} & set(changed):
        _rerate_points(kpi)
    return kpi


def _rerate_points(kpi: KpiDefinition) -> None:
    """A new band re-rates the stored windows at once (their values stand) and the latest complete
    one may open an alert; nothing waits for the next roll-up."""
    from apps.kpis.alerts import kpi_alert_check
    from apps.kpis.compute import in_band
    from apps.kpis.models import KpiPoint

    rated = (KpiPoint.Status.OK, KpiPoint.Status.OUT_OF_BAND)
    for point in kpi.points.filter(status__in=rated, value__isnull=False):
        status = (
            KpiPoint.Status.OK
            if in_band(point.value, kpi.band_low, kpi.band_high)
            else KpiPoint.Status.OUT_OF_BAND
        )
        if point.status != status:
            point.status = status
            point.save(update_fields=["status"])
    transaction.on_commit(lambda: kpi_alert_check(kpi=kpi), robust=True)


@transaction.atomic
def kpi_delete(*, user, kpi: KpiDefinition) -> None:
    if not access.can_define_kpis(user, kpi.model):
        raise PermissionDenied("only the model's data scientists or the business owner who sponsors it")
    audit_record(actor=user, action="kpi.deleted", obj=kpi, team=kpi.model.team, name=kpi.name)
    kpi.delete()
