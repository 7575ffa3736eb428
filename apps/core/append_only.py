"""Database triggers that keep the audit table append-only for every client, not only the ORM.

PostgreSQL refuses UPDATE, DELETE and TRUNCATE on ``registry_auditevent``; SQLite (the embedded
default) refuses UPDATE and DELETE. Installed by migration ``registry.*_auditevent_append_only``.
Two things may still empty the table, both meant to wipe a whole database: ``manage.py flush``
(which transactional tests run between tests; our ``flush`` command allows it for its own
duration) and dropping the table. The triggers stop mistakes and application code, not the
database's owner, who can drop them.

SQLite loses a table's triggers when a migration rebuilds the table, so after every ``migrate``
the SQLite triggers are put back if the table exists and that migration is applied.
"""

from contextlib import contextmanager

TABLE = "registry_auditevent"
MIGRATION_SUFFIX = "_auditevent_append_only"  # the registry migration that installs them
_FLUSH_SETTING = "modelyard.audit_flush"  # a PostgreSQL session setting, 'on' only inside flush

_POSTGRESQL_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' AND current_setting('{_FLUSH_SETTING}', true) = 'on' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'audit events are append-only: % on {TABLE} is refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$
    """,
    f"""
    CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()
    """,
]
_POSTGRESQL_REMOVE = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {TABLE}_append_only()",
]


def _sqlite_trigger(operation: str) -> str:
    return (
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
        f"BEGIN SELECT RAISE(ABORT, 'audit events are append-only: {operation} on {TABLE} is refused'); END"
    )


_SQLITE_INSTALL = [_sqlite_trigger("UPDATE"), _sqlite_trigger("DELETE")]
_SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"]


def _statements(vendor: str, install: bool) -> list[str]:
    if vendor == "postgresql":
        return _POSTGRESQL_INSTALL if install else _POSTGRESQL_REMOVE
    if vendor == "sqlite":
        return _SQLITE_INSTALL if install else _SQLITE_REMOVE
    return []  # Modelyard runs on PostgreSQL or SQLite; elsewhere only the model's checks apply


def install(connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, install=True):
            cursor.execute(sql)


def remove(connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, install=False):
            cursor.execute(sql)


def _applied(connection) -> bool:
    from django.db.migrations.recorder import MigrationRecorder

    if TABLE not in connection.introspection.table_names():
        return False
    applied = MigrationRecorder(connection).applied_migrations()
    return any(app == "registry" and name.endswith(MIGRATION_SUFFIX) for app, name in applied)


def _sqlite_delete_trigger_exists(cursor) -> bool:
    cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s", [f"{TABLE}_no_delete"])
    return cursor.fetchone() is not None


def reinstall_on_sqlite(using: str = "default", **kwargs) -> None:
    """After ``migrate``: put back the SQLite triggers a table rebuild may have dropped."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "sqlite" and _applied(connection):
        install(connection)


@contextmanager
def flush_allowed(connection):
    """Let ``flush`` empty the audit table (and only for the duration of the flush)."""
    restore = None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config(%s, 'on', false)", [_FLUSH_SETTING])
            restore = "SELECT set_config(%s, 'off', false)", [_FLUSH_SETTING]
        elif connection.vendor == "sqlite" and _sqlite_delete_trigger_exists(cursor):
            cursor.execute(_SQLITE_REMOVE[1])
            restore = _SQLITE_INSTALL[1], []
    try:
        yield
    finally:
        if restore is not None:
            with connection.cursor() as cursor:
                cursor.execute(*restore)
