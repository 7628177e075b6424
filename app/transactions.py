"""Database transaction discipline shared by every service.

Every write goes through :func:`write_transaction`. On SQLite it begins with
``BEGIN IMMEDIATE``, so concurrent writers queue instead of failing when a read
transaction tries to upgrade, and writers of all processes queue on a lock file
beside the database (``<database>-writer.lock``); on PostgreSQL callers lock the
rows they change (``SELECT ... FOR UPDATE``) or name the version they read, and
the audit append takes an advisory lock. Either way one write transaction holds
one audit append.

The SQLite settings (pragmas, and BEGIN IMMEDIATE for writes) are listeners on the
application's own engines (:func:`register`, called by ``create_app``), not on
SQLAlchemy's ``Engine`` class, so no other engine in the process is touched.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .errors import Conflict
from .extensions import db

WRITE_OPTION = "ratschlag_write"


class PendingChanges(RuntimeError):
    """A write transaction began while the session held changes no service wrote: a bug."""


def register(engine: Engine) -> None:
    """Give one of the application's SQLite engines its settings (other engines are left alone)."""
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _sqlite_connect):
        return
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection, _record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own
    # transaction handling would defer it and break BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    # Freed pages are zeroed: an erased person's texts must not linger in the file (and its backups).
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def _sqlite_begin(connection):
    immediate = connection.get_execution_options().get(WRITE_OPTION)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction() -> Iterator[Session]:
    """One database transaction for one audited change; commits or rolls back everything.

    Whatever the request read before is settled first. Changes the session holds that no service
    wrote would ride along unaudited: that is a bug, and :class:`PendingChanges` says so (nothing
    is rolled back quietly). On SQLite a clean read transaction commits, so that the write can
    begin IMMEDIATE; on PostgreSQL (READ COMMITTED, where every statement sees what is committed)
    it simply continues, which saves a round trip. A service either reads what it changes again
    inside the transaction (``populate_existing``, and on PostgreSQL ``FOR UPDATE``: see
    ``recommendation_for_change``), or names in its UPDATE the version its checks read (``fire``),
    so nothing decided on stale data can commit.
    """
    session = db.session()
    with ExitStack() as stack:
        if session.in_transaction():
            if session.new or session.deleted or any(session.is_modified(obj) for obj in session.dirty):
                raise PendingChanges(
                    "the session holds changes that no service wrote: "
                    f"{len(session.new)} new, {len(session.dirty)} changed, {len(session.deleted)} deleted"
                )
            if not is_postgresql():
                session.commit()  # objects stay loaded (expire_on_commit=False)
        if not is_postgresql():
            stack.enter_context(_sqlite_writer_queue())
        if not session.in_transaction():
            session.connection(execution_options={WRITE_OPTION: True})
        try:
            yield session
            session.commit()
        except StaleDataError:
            # The row's version moved under us (the version_id_col check): a lost race, not a crash.
            session.rollback()
            raise Conflict(_("someone else changed this at the same moment; reload and try again")) from None
        except BaseException:
            session.rollback()
            raise


@contextmanager
def _sqlite_writer_queue() -> Iterator[None]:
    """Writers of this SQLite file queue on a lock file beside it, across processes.

    SQLite lets one writer in at a time; the others poll, sleeping 1, 2, 5, 10 ... ms between
    tries, so under load the file sits idle while writers sleep. A kernel lock (flock) wakes
    the next writer the moment the last one is done. Programs that do not take it (the
    ``sqlite3`` shell, say) still meet the busy timeout, as before.
    """
    with sqlite_lock_file("writer"):
        yield


@contextmanager
def sqlite_lock_file(name: str, wait_seconds: float | None = None) -> Iterator[None]:
    """Hold ``<database>-<name>.lock`` (flock) beside this SQLite file, across processes; nothing
    for an in-memory database. ``wait_seconds``: give up after that long with ``TimeoutError``
    (None: wait as long as it takes)."""
    database = db.engine.url.database
    if not database or database == ":memory:":
        yield
        return
    descriptor = os.open(f"{database}-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if wait_seconds is None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(name) from None
                    time.sleep(0.2)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def add_unique(session: Session, obj) -> bool:
    """Insert ``obj`` inside the write transaction; False (and nothing inserted, the transaction
    still usable) when a unique constraint refuses it: a simultaneous request inserted the same
    first. A service checks for duplicates before it inserts, but on PostgreSQL two transactions can
    both pass that check; this turns the loser's IntegrityError into an answer."""
    try:
        with session.begin_nested():
            session.add(obj)
        return True
    except IntegrityError:
        return False


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"
