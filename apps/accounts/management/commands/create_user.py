from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.roles import Role
from apps.accounts.services import token_create, user_create


class Command(BaseCommand):
    help = "Create a user with a role (and team, created when missing) and print a new API token."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--team", help="team name; created when missing")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument(
            "--password", help="lets the user log in to the web pages; must pass the password validators"
        )
        parser.add_argument("--email", default="")

    def handle(self, *args, username, team, role, password, email, **options):
        if role == Role.DATA_SCIENTIST and not team:
            raise CommandError("a data scientist needs --team")
        try:
            user = user_create(
                username=username, role=Role(role), team_name=team, password=password, email=email
            )
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from exc
        key = token_create(user=user, name="create_user")
        self.stdout.write(key)
        self.stderr.write(f"user {user.username} ({role}{', team ' + team if team else ''}) ready")
