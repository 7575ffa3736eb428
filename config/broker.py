"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file of its own (docs/adr/0005).

`modelyard+sqlite:///<file>` is kombu's `sqla+sqlite:///<file>` with three changes for a demo
that runs for days with several worker processes and beat on one file:

- every connection is in WAL mode with a 30 s busy timeout, so a process that finds the file
  locked waits instead of failing, and readers never block the writer;
- no connection is pooled (NullPool): a Celery worker forks its pool after it has connected, and a
  SQLite connection must never cross a fork;
- a message is deleted when it is handed out, instead of kept with ``visible = 0`` for ever: a
  table that grows by 45,000 rows a day makes every poll slower (kombu acknowledges virtual
  messages in memory, and puts an unacknowledged one back with a new row, so the old row is not
  needed for redelivery).

A message is one row, written in one transaction: a reader sees all of it or none of it, unlike
the filesystem transport, which could read a file while it was still being written.
"""

from __future__ import annotations

import time
from json import loads
from queue import Empty

from kombu.transport import sqlalchemy as sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_SECONDS = 30


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL: a committed message survives a crash of any process (not a power cut).
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class Channel(sqla.Channel):
    def _open(self):
        # On a new file, processes that start together race to create the two tables: the loser
        # of `CREATE TABLE` finds them made ("already exists") and only has to look again.
        for attempt in range(5):
            try:
                return super()._open()
            except OperationalError as exc:
                if "already exists" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.1)

    def _get_or_create(self, queue):
        # kombu guards queue creation with a lock of one process only: when two processes create
        # the same queue at once, the loser's INSERT breaks the unique name. The row is there then.
        for attempt in range(5):
            try:
                return super()._get_or_create(queue)
            except IntegrityError:
                self.session.rollback()
                if attempt == 4:
                    raise
                time.sleep(0.05)

    def _engine_from_config(self):
        conninfo = self.connection.client
        options = {
            key: value
            for key, value in conninfo.transport_options.items()
            if key in ("echo", "connect_args", "poolclass")
        }
        options.setdefault("poolclass", NullPool)
        options.setdefault("connect_args", {"timeout": BUSY_TIMEOUT_SECONDS})
        engine = sqla.create_engine(conninfo.hostname, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def _get(self, queue):
        obj = self._get_or_create(queue)
        if self.session.bind.name == "sqlite":
            # The write lock first: two workers never both take the same row.
            self.session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            msg = (
                self.session.query(self.message_cls)
                .filter(self.message_cls.queue_id == obj.id)
                .filter(self.message_cls.visible.is_(True))
                .order_by(self.message_cls.sent_at, self.message_cls.id)
                .limit(1)
                .first()
            )
            if msg is None:
                raise Empty()
            payload = loads(bytes_to_str(msg.payload))
            self.session.delete(msg)
            return payload
        finally:
            self.session.commit()


class Transport(sqla.Transport):
    Channel = Channel
    driver_name = "sqlalchemy+sqlite-wal"
