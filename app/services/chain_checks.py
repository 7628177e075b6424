"""Checks of the whole audit chain, asked for on the administration page and run by the worker.

Recomputing a million hashes takes seconds: too long for a web request. A superuser asks for a
check (``request_check``: one audited write, ``audit.check_requested``); ``ratschlag worker``
finds what is waiting (``run_waiting``), runs ``audit.verify`` outside any write transaction and
stores what it found with its time. The page shows the latest result and whether a check waits.

Storing the result is not audited: it says nothing the chain itself does not, and an event for
it would move the head the check has just reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from .. import audit
from ..extensions import db
from ..models import ChainCheck, utcnow
from ..transactions import is_postgresql, write_transaction
from .validation import require_superuser

#: A check started longer ago than this by a worker that never finished it is taken again.
STALE_AFTER = timedelta(hours=1)


def request_check(actor: Any) -> tuple[ChainCheck, bool]:
    """Ask the worker to verify the chain; returns the waiting check and whether it is new (a
    check that waits already and has not started serves this request too: nothing is written)."""
    require_superuser(actor)
    with write_transaction() as session:
        waiting = session.scalar(select(ChainCheck).where(ChainCheck.started_at.is_(None)).order_by(ChainCheck.id).limit(1))
        if waiting is not None:
            return waiting, False
        check = ChainCheck(requested_by_id=actor.id if actor is not None else None, requested_at=utcnow())
        session.add(check)
        audit.record("audit.check_requested", check, actor, {})
        return check, True


def latest() -> ChainCheck | None:
    """The newest check that finished."""
    return db.session.scalar(
        select(ChainCheck)
        .where(ChainCheck.finished_at.is_not(None))
        .order_by(ChainCheck.finished_at.desc(), ChainCheck.id.desc())
        .limit(1)
    )


def waiting() -> ChainCheck | None:
    """The oldest check asked for and not finished yet (waiting for the worker, or running)."""
    return db.session.scalar(select(ChainCheck).where(ChainCheck.finished_at.is_(None)).order_by(ChainCheck.id).limit(1))


def run_waiting(verify: Callable[[], audit.Verification] = audit.verify) -> ChainCheck | None:
    """The worker's part: take every check that waits (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so
    two workers do not both run it), verify the chain once for all of them, store the result on
    each. Returns the check, or None when none waited."""
    now = utcnow()
    with write_transaction() as session:
        query = (
            select(ChainCheck.id)
            .where(
                ChainCheck.finished_at.is_(None),
                or_(ChainCheck.started_at.is_(None), ChainCheck.started_at < now - STALE_AFTER),
            )
            .order_by(ChainCheck.id)
        )
        if is_postgresql():
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(ChainCheck).where(ChainCheck.id.in_(ids)).values(started_at=now))
    if not ids:
        return None
    result = verify()
    db.session.rollback()  # the verification's read transaction ends here
    with write_transaction() as session:
        session.execute(
            update(ChainCheck)
            .where(ChainCheck.id.in_(ids))
            .values(
                finished_at=utcnow(),
                ok=result.ok,
                events=result.count,
                head_seq=result.head_seq,
                head_hash=result.head_hash,
                bad_seq=result.bad_seq,
                reason=result.reason,
                erased=result.erased,
                anchors=result.anchors,
            )
        )
    return db.session.get(ChainCheck, ids[-1], populate_existing=True)
