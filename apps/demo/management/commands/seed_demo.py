from django.core.management.base import BaseCommand

from apps.demo.seed import DEMO_PASSWORD, USERS, seed


class Command(BaseCommand):
    help = "Create the demo teams, users and models (idempotent)."

    def handle(self, *args, **options):
        seed()
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for u in USERS:
            self.stdout.write(f"  {u.username:<6} {u.what}")
