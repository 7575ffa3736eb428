"""Django's ``flush``, allowed to empty the append-only audit table: the one command meant to wipe
every table at once (transactional tests run it between tests). Everything else stays refused."""

from django.core.management.commands import flush
from django.db import connections

from apps.core import append_only


class Command(flush.Command):
    def handle(self, **options):
        with append_only.flush_allowed(connections[options["database"]]):
            return super().handle(**options)
