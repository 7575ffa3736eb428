from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group

from apps.accounts.admin_base import AuditedAdmin, _audit
from apps.accounts.models import ApiToken, Profile, Team
from apps.core.admin import ReadOnlyAdmin

User = get_user_model()


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    """Teams and their members are kept here (``create_user`` adds a user to a team); audited."""

    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)


@admin.register(Profile)
class ProfileAdmin(AuditedAdmin):
    list_display = ("user", "time_zone")
    search_fields = ("user__username",)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Issued and revoked by their owner on the tokens page or with ``modelyard login`` (audited);
    to cut off someone else's tokens, deactivate the account."""

    list_display = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(ReadOnlyAdmin):
    """Roles are groups whose permissions are declared in apps/accounts/roles.py and set again
    after every migrate; a user's role is changed on the user's page."""

    list_display = ("name",)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    """Users, their roles (groups), staff and superuser flags: every change is audited. A user who
    acted cannot be deleted, since the audit trail names them: deactivate the account instead."""

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, unquote(id))
            _audit(actor=request.user, action="admin.password_changed", obj=user)
        return response

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            messages.warning(
                request,
                "The audit trail and other records name this account, so it cannot be deleted. "
                "Deactivate it instead (untick “Active”): that ends its sessions and API tokens "
                "and keeps its history.",
            )
        return deleted, counts, perms_needed, protected


# django-axes' sign-in records. Deleting an access attempt lifts that lockout (as `axes_reset`
# does), so it stays possible and is audited; its logs are only read.

for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    admin.site.unregister(_model)


@admin.register(AccessAttempt)
class LockoutAdmin(AuditedAdmin, AccessAttemptAdmin):
    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccessLog)
class SignInLogAdmin(ReadOnlyAdmin, AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class SignInFailureLogAdmin(ReadOnlyAdmin, AccessFailureLogAdmin):
    pass
