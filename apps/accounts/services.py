from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.accounts.models import ApiToken, Team, hash_token
from apps.accounts.roles import Role, ensure_role_groups


def team_get_or_create(*, name: str) -> Team:
    slug = slugify(name)
    team = Team.objects.filter(slug=slug).first()
    return team or Team.objects.create(name=name, slug=slug)


@transaction.atomic
def user_create(
    *, username: str, role: Role, team_name: str | None = None, password: str | None = None, email: str = ""
):
    """Create (or update) a user with one role and, optionally, a team; the team is created when
    missing. Returns the user."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
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
    user.groups.add(Group.objects.get(name=role.value))
    if team_name:
        team_get_or_create(name=team_name).members.add(user)
    return user


def token_create(*, user, name: str = "default") -> str:
    """Issue a new API token and return its key. Only the hash is kept: the key is shown once."""
    key = ApiToken.generate_key()
    ApiToken.objects.create(user=user, name=name[:100], prefix=key[:10], key_hash=hash_token(key))
    return key


def token_revoke(*, user, token_id: int) -> None:
    ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def token_authenticate(key: str):
    """The user a key belongs to, or None. Marks the token as used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
