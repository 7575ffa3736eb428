from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import ApiToken, Team, hash_token
from apps.accounts.roles import Role, ensure_role_groups


def _audit(**kwargs) -> None:
    from apps.core.audit import audit_record

    audit_record(**kwargs)


def team_get_or_create(*, name: str) -> Team:
    slug = slugify(name)
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        team = Team.objects.create(name=name, slug=slug)
        _audit(actor=None, action="team.created", obj=team, team=team, name=name)
    return team


@transaction.atomic
def user_create(
    *, username: str, role: Role, team_name: str | None = None, password: str | None = None, email: str = ""
):
    """Create (or update) a user with one role and, optionally, a team; the team is created when
    missing. Returns the user. A password must pass AUTH_PASSWORD_VALIDATORS (ValidationError)."""
    User = get_user_model()
    if password:
        validate_password(password, user=User(username=username, email=email))
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if password:
        user.set_password(password)
    elif not user.has_usable_password():
        user.set_unusable_password()
    user.is_superuser = role == Role.ADMIN
    # IT operators use the admin for the policies they own (packaging policy, later library policy).
    user.is_staff = role in (Role.ADMIN, Role.IT_OPERATOR)
    user.save()
    if not Group.objects.filter(name=role.value).exists():
        ensure_role_groups()
    # One role: a user re-created with another role leaves the old one.
    user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]).exclude(name=role.value))
    user.groups.add(Group.objects.get(name=role.value))
    team = team_get_or_create(name=team_name) if team_name else None
    if team is not None:
        team.members.add(user)
    _audit(
        actor=None,
        action="user.created" if created else "user.updated",
        obj=user,
        team=team,
        role=role.value,
        password_set=bool(password),
    )
    return user


class TokenExpired(Exception):
    """A known, unrevoked token past its ``expires_at``."""

    def __init__(self, expired_at: datetime):
        super().__init__(f"API token expired at {expired_at:%Y-%m-%d %H:%M} UTC")
        self.expired_at = expired_at


@dataclass(frozen=True)
class IssuedToken:
    key: str  # shown once; only its hash is stored
    token: ApiToken
    replaced: ApiToken | None


@transaction.atomic
def token_issue(*, user, name: str = "default", replaces: str | None = None) -> IssuedToken:
    """Issue a new API token valid for MODELYARD_API_TOKEN_DAYS. ``replaces``: the key of a token
    this one takes over from (what `modelyard login` had saved); it is revoked when it is the same
    user's, and ignored otherwise."""
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=key[:10], key_hash=hash_token(key))
    _audit(
        actor=user,
        action="token.created",
        obj=token,
        name=token.name,
        prefix=token.prefix,
        expires_at=token.expires_at.isoformat(),
    )
    old = (
        ApiToken.objects.filter(user=user, key_hash=hash_token(replaces), revoked_at__isnull=True).first()
        if replaces
        else None
    )
    if old is not None:
        token_revoke(user=user, token_id=old.pk, reason=f"replaced by {token.prefix}…")
    return IssuedToken(key=key, token=token, replaced=old)


def token_create(*, user, name: str = "default") -> str:
    """Issue a new API token and return its key. Only the hash is kept: the key is shown once."""
    return token_issue(user=user, name=name).key


def token_revoke(*, user, token_id: int, reason: str = "") -> bool:
    """Revoke one of ``user``'s tokens; True when it was active until now."""
    revoked = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        details = {"reason": reason} if reason else {}
        _audit(actor=user, action="token.revoked", obj=ApiToken.objects.get(pk=token_id), **details)
    return bool(revoked)


TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def token_authenticate(key: str):
    """The user a key belongs to, or None; TokenExpired for a token past its expiry. Marks the
    token as used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if token.is_expired:
        raise TokenExpired(token.expires_at)
    # "Last used" to the minute: a client polling the API would otherwise write (and lock) the
    # token's row on every request.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
