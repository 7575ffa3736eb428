"""IT's library policy: allowed, blocked and minimum versions, with per-team exceptions that
expire. Packaging asks ``library_policy_refusal`` before it validates anything."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from packaging.utils import canonicalize_name

from apps.accounts import access
from apps.core.audit import audit_record
from apps.libraries.matching import parse_version
from apps.libraries.models import LibraryException, LibraryRule


def library_policy_violations(*, team, packages, at=None) -> list[str]:
    """One sentence per locked (name, version) the policy refuses for this team."""
    at = at or timezone.now()
    pins = {canonicalize_name(name): str(version) for name, version in packages}
    rules = LibraryRule.objects.filter(package__in=list(pins)).exclude(rule=LibraryRule.Rule.ALLOWED)
    violations = []
    for rule in rules.prefetch_related("exceptions"):
        version = pins[rule.package]
        if rule.rule == LibraryRule.Rule.BLOCKED:
            problem = f"{rule.package}=={version} is blocked by IT's library policy"
        else:
            installed, minimum = parse_version(version), parse_version(rule.minimum_version)
            if installed is not None and minimum is not None and installed >= minimum:
                continue
            reason = "cannot be compared with" if installed is None else "is below"
            problem = (
                f"{rule.package}=={version} {reason} the minimum version {rule.minimum_version} "
                "set by IT's library policy"
            )
        exceptions = [e for e in rule.exceptions.all() if team is not None and e.team_id == team.pk]
        if any(e.expires_at > at for e in exceptions):
            continue
        if rule.reason:
            problem += f" ({rule.reason})"
        if exceptions:
            last = max(exceptions, key=lambda e: e.expires_at)
            problem += f"; team {team.name}'s exception expired on {last.expires_at:%Y-%m-%d %H:%M} UTC"
        else:
            problem += f"; team {team.name if team else '(none)'} has no exception"
        violations.append(problem)
    return violations


def library_policy_refusal(*, team, packages) -> str | None:
    """The error a refused build gets, or None when the policy allows every locked package."""
    violations = library_policy_violations(team=team, packages=packages)
    if not violations:
        return None
    return "refused by the library policy: " + "; and ".join(violations)


def _require_it(user) -> None:
    if not access.can_manage_libraries(user):
        raise PermissionDenied("only an IT operator can change the library policy")


@transaction.atomic
def library_rule_save(
    *, user, package: str, rule: str, minimum_version: str = "", reason: str = ""
) -> LibraryRule:
    """Create or replace the rule for a package."""
    _require_it(user)
    name = canonicalize_name((package or "").strip())
    if not name:
        raise ValidationError({"package": "name the library, e.g. pyyaml"})
    if rule not in LibraryRule.Rule.values:
        raise ValidationError({"rule": f"expected one of {', '.join(LibraryRule.Rule.values)}, got {rule!r}"})
    minimum_version = (minimum_version or "").strip()
    if rule == LibraryRule.Rule.MINIMUM and parse_version(minimum_version) is None:
        raise ValidationError({"minimum_version": f"{minimum_version!r} is not a PEP 440 version"})
    if rule != LibraryRule.Rule.MINIMUM:
        minimum_version = ""
    saved, created = LibraryRule.objects.update_or_create(
        package=name,
        defaults={"rule": rule, "minimum_version": minimum_version, "reason": reason, "updated_by": user},
    )
    audit_record(
        actor=user,
        action="library_rule.created" if created else "library_rule.changed",
        obj=saved,
        rule=rule,
        minimum_version=minimum_version,
        reason=reason,
    )
    return saved


@transaction.atomic
def library_rule_delete(*, user, rule: LibraryRule) -> None:
    _require_it(user)
    audit_record(actor=user, action="library_rule.deleted", obj=rule, rule=rule.rule)
    rule.delete()


@transaction.atomic
def library_exception_grant(*, user, rule: LibraryRule, team, expires_at, reason: str) -> LibraryException:
    _require_it(user)
    if expires_at is None or expires_at <= timezone.now():
        raise ValidationError({"expires_at": "an exception must expire in the future"})
    if not (reason or "").strip():
        raise ValidationError({"reason": "say why the team needs the exception"})
    if rule.rule == LibraryRule.Rule.ALLOWED:
        raise ValidationError({"rule": f"{rule.package} is allowed: there is nothing to except from"})
    granted = LibraryException.objects.create(
        rule=rule, team=team, expires_at=expires_at, reason=reason.strip(), granted_by=user
    )
    audit_record(
        actor=user,
        action="library_exception.granted",
        obj=granted,
        team=team,
        package=rule.package,
        expires_at=expires_at.isoformat(),
        reason=granted.reason,
    )
    return granted


@transaction.atomic
def library_exception_revoke(*, user, exception: LibraryException) -> None:
    _require_it(user)
    audit_record(
        actor=user,
        action="library_exception.revoked",
        obj=exception,
        team=exception.team,
        package=exception.rule.package,
    )
    exception.delete()
