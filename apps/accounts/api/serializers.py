from rest_framework import serializers

from apps.accounts.access import primary_role, roles_of
from apps.accounts.models import Team


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "created_at"]


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()

    def get_roles(self, user) -> list[str]:
        return sorted(r.value for r in roles_of(user))

    def get_role(self, user) -> str | None:
        role = primary_role(user)
        return role.value if role else None

    def get_teams(self, user) -> list[str]:
        return list(user.teams.values_list("slug", flat=True))


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})
    name = serializers.CharField(required=False, default="modelyard-cli", max_length=100)
    replaces = serializers.CharField(
        required=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text="the key of the token this one replaces; revoked when it is yours",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField()
    expires_at = serializers.DateTimeField()
    replaced = serializers.BooleanField(help_text="whether the token named in `replaces` was revoked")
