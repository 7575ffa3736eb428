"""Roles are Django groups. Their permissions are declared here and synced after every migrate."""

from enum import StrEnum


class Role(StrEnum):
    DATA_SCIENTIST = "data_scientist"
    IT_OPERATOR = "it_operator"
    BUSINESS_OWNER = "business_owner"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {
            "data_scientist": "Data scientist",
            "it_operator": "IT operator",
            "business_owner": "Business owner",
            "admin": "Admin",
        }[self.value]


# Model-level permissions per role ("app_label.codename"). Object-level scoping (which team's
# models) is decided in apps.accounts.access; these say which kinds of action a role may take.
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.DATA_SCIENTIST: [
        "packaging.view_packagebuild",
        "registry.view_registeredmodel",
        "registry.add_registeredmodel",
        "registry.change_registeredmodel",
        "registry.view_modelversion",
        "registry.add_modelversion",
        "registry.change_modelversion",
        "core.view_auditevent",
        "jobs.view_job",
    ],
    Role.IT_OPERATOR: [
        # IT changes a version's stage on its page or through the API (the stage service checks
        # the production gate and audits); in the admin, models and versions are only shown.
        "registry.view_registeredmodel",
        "registry.view_modelversion",
        "core.view_auditevent",
        "jobs.view_job",
        # IT sets what the sandbox trusts and allows, in the admin (IT operators are staff).
        "packaging.view_packagingpolicy",
        "packaging.change_packagingpolicy",
        "packaging.view_packagebuild",
    ],
    Role.BUSINESS_OWNER: [
        "packaging.view_packagebuild",
        "registry.view_registeredmodel",
        "registry.view_modelversion",
        "jobs.view_job",
    ],
    Role.ADMIN: [],  # admins are superusers
}


def ensure_role_groups(sender=None, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:  # the app may not be migrated yet
                wanted.append(perm)
        group.permissions.set(wanted)
