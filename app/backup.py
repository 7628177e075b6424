"""Backup and restore of an SQLite installation (PostgreSQL: pg_dump and pg_restore, see docs/operations.md).

Both use SQLite's online backup API: a backup is a consistent snapshot even
while the application writes, and a restore copies a checked backup into the
live database file page by page.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from pathlib import Path
from typing import cast

from flask_babel import gettext as _

from . import audit
from .errors import ValidationError
from .extensions import db

_Event = namedtuple("_Event", audit.FIELDS)  # type: ignore[misc]  # the audit format names the fields


def _require_sqlite() -> None:
    if db.engine.dialect.name != "sqlite":
        raise ValidationError(
            _("backup and restore work on SQLite; for PostgreSQL use pg_dump and pg_restore (see docs/operations.md)")
        )


def check_file(path: Path, progress: audit.Progress | None = None) -> audit.Verification:
    """That ``path`` is an intact Ratschlag database whose audit chain verifies."""
    if not path.is_file():
        raise ValidationError(_("%(path)s does not exist", path=path))
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise ValidationError(_("%(path)s is damaged (SQLite's integrity check fails)", path=path))
            rows = connection.execute(f"SELECT {', '.join(audit.FIELDS)} FROM audit_events ORDER BY seq")
            result = audit.verify_rows(audit.counted((_Event(*row) for row in rows), progress))
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise ValidationError(_("%(path)s is not a Ratschlag database: %(error)s", path=path, error=error)) from None
    if not result.ok:
        raise ValidationError(_("the audit chain in %(path)s is broken: %(result)s", path=path, result=result))
    return result


def backup(target: Path, progress: audit.Progress | None = None) -> audit.Verification:
    """Write a consistent copy of the live database to ``target`` (which must not exist yet)."""
    _require_sqlite()
    if target.exists():
        raise ValidationError(_("%(path)s exists already; choose a new file", path=target))
    target.parent.mkdir(parents=True, exist_ok=True)
    source = db.engine.raw_connection()
    try:
        destination = sqlite3.connect(target)
        try:
            cast(sqlite3.Connection, source.driver_connection).backup(destination)  # one step: a consistent snapshot
        finally:
            destination.close()
    finally:
        source.close()
    return check_file(target, progress)


def events_in(path: Path) -> int:
    """How many audit events the file at ``path`` holds (0 where it cannot tell: ``check_file`` says why)."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(connection.execute("SELECT count(*) FROM audit_events").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def restore(source_path: Path, progress: audit.Progress | None = None) -> audit.Verification:
    """Replace the live database's content with a checked backup. Stop the application first.
    ``progress`` is told of every event checked, twice: in the backup before and in the database after."""
    _require_sqlite()
    check_file(source_path, progress)
    db.session.remove()
    db.engine.dispose()
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = db.engine.raw_connection()
    try:
        source.backup(cast(sqlite3.Connection, target.driver_connection))
    finally:
        target.close()
        source.close()
    db.engine.dispose()
    return audit.verify(progress=progress)
