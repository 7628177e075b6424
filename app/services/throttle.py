"""Sign-in and password-check throttling, kept in the database.

Counters live in the ``throttles`` table, so every worker and every server sees the same ones
(no Redis needed), and each attempt is counted *before* its password is checked, in one
write transaction: parallel requests cannot slip past a limit, and a refused attempt costs no
hash. Each counter allows some free failures, then makes the next attempt wait, doubling the wait
with every further failure up to a cap (``THROTTLE_*`` settings in app/config.py; docs/security.md).

Sign-in counts three keys:

- the (account, address) pair: the guesser at one address is slowed down on one account;
- the address: one address spraying guesses over many accounts is slowed down;
- the account, but only for addresses that have not signed in to it successfully before: many
  addresses guessing one account are slowed down, while its owner, from an address they used
  before, is never locked out by a stranger. (From a new address during such an attack the owner
  waits too; the wait is bounded by the cap.)

A success clears its pair, marks the address as known for the account, and takes back its own
reservation from the other two counters. The password change counts per account (only someone
signed in as the person can try it). Keys are HMACs with the installation's secret key, so the
table holds neither addresses nor e-mail addresses. Nothing here is audited: counters are
operational state, not part of the record.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Throttle, email_key, utcnow
from ..transactions import is_postgresql, write_transaction


def setting(name: str) -> int:
    """A ``THROTTLE_*`` setting (defaults and meaning in app/config.py)."""
    return int(current_app.config[name])


def _key(*parts: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(secret, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Counter:
    key: str
    free: int


@dataclass(frozen=True)
class Attempt:
    """A counted attempt: ``wait`` > 0 means refused (seconds to wait); otherwise go ahead, then
    report the outcome with ``succeeded``."""

    counters: tuple[Counter, ...]
    wait: int
    clear_on_success: tuple[str, ...] = ()
    known_key: str | None = None


def _wait(failures: int, free: int) -> timedelta | None:
    if failures < free:
        return None
    seconds = setting("THROTTLE_FIRST_WAIT_SECONDS") * 2 ** min(failures - free, 30)
    return timedelta(seconds=min(seconds, setting("THROTTLE_MAX_WAIT_SECONDS")))


def _count(counters: tuple[Counter, ...], **extra) -> Attempt:
    """In one write transaction: refuse if any counter is blocked now, else count one failure on
    each (reserved; ``succeeded`` takes it back)."""
    now = utcnow()
    forget = timedelta(seconds=setting("THROTTLE_FORGET_AFTER_SECONDS"))
    with write_transaction() as session:
        rows = _locked(session, [c.key for c in counters], now)
        blocked = [row.blocked_until for row in rows.values() if row.blocked_until and row.blocked_until > now]
        if blocked:
            return Attempt(counters, max(1, int((max(blocked) - now).total_seconds() + 0.999)))
        for counter in counters:
            row = rows[counter.key]
            if row.updated_at < now - forget:
                row.failures = 0
            row.failures += 1
            row.updated_at = now
            wait = _wait(row.failures, counter.free)
            row.blocked_until = now + wait if wait else None
    return Attempt(counters, 0, **extra)


def _locked(session, keys: list[str], now: datetime) -> dict[str, Throttle]:
    """The rows of ``keys``, created where missing and locked, in key order (so that two attempts
    cannot deadlock). A row another request is creating at this moment is waited for, not missed:
    the attempt that comes second sees the first one's count."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    insert = postgresql.insert if is_postgresql() else sqlite.insert
    session.execute(
        insert(Throttle)
        .values([{"key": key, "failures": 0, "updated_at": now} for key in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return {
        row.key: row
        for row in session.scalars(
            select(Throttle)
            .where(Throttle.key.in_(keys))
            .order_by(Throttle.key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }


def _is_known(key: str) -> bool:
    row = db.session.get(Throttle, key, populate_existing=True)
    return row is not None and row.updated_at > utcnow() - timedelta(days=setting("THROTTLE_KNOWN_ADDRESS_DAYS"))


def sign_in_attempt(email: str, address: str) -> Attempt:
    """Count a sign-in attempt of ``address`` on the account ``email`` (known or not: an unknown
    address behaves the same, so the throttle tells nothing about who has an account)."""
    account = email_key(email or "")
    address = address or "unknown"
    pair = _key("pair", account, address)
    known = _key("known", account, address)
    counters = [
        Counter(pair, setting("THROTTLE_FREE_PER_PAIR")),
        Counter(_key("address", address), setting("THROTTLE_FREE_PER_ADDRESS")),
    ]
    if not _is_known(known):
        counters.append(Counter(_key("account", account), setting("THROTTLE_FREE_PER_ACCOUNT")))
    return _count(tuple(counters), clear_on_success=(pair,), known_key=known)


def submission_attempt(scope: str, subject: str) -> Attempt:
    """Count a public submission (app/services/intake.py) per ``address`` or per ``email`` (its
    ``email_key``): ``INTAKE_FREE_PER_ADDRESS`` or ``INTAKE_FREE_PER_EMAIL`` go through, then the
    waits grow as for sign-ins. Every submission counts; there is no success that clears it."""
    free = setting("INTAKE_FREE_PER_ADDRESS" if scope == "address" else "INTAKE_FREE_PER_EMAIL")
    return _count((Counter(_key("intake", scope, subject), free),))


def password_attempt(user_id: int) -> Attempt:
    """Count a check of the current password on the password form."""
    key = _key("password", str(user_id))
    return _count((Counter(key, setting("THROTTLE_FREE_PASSWORD")),), clear_on_success=(key,))


def succeeded(attempt: Attempt, session=None) -> None:
    """The attempt was right: clear what it clears, take back its reservation elsewhere, and
    remember the address as known for the account. In the caller's transaction when given."""
    if session is None:
        with write_transaction() as session:
            _succeeded(session, attempt)
    else:
        _succeeded(session, attempt)


def _succeeded(session, attempt: Attempt) -> None:
    now = utcnow()
    session.execute(delete(Throttle).where(Throttle.key.in_(attempt.clear_on_success)))
    rest = {c.key: c for c in attempt.counters if c.key not in attempt.clear_on_success}
    rows = _locked(session, [*rest, *([attempt.known_key] if attempt.known_key else [])], now)
    for key, counter in rest.items():
        row = rows[key]
        row.failures = max(0, row.failures - 1)
        if not _wait(row.failures, counter.free):
            row.blocked_until = None
    if attempt.known_key:
        rows[attempt.known_key].updated_at = now
    # Old rows go as new successes come (indexed; each row is deleted once).
    session.execute(
        delete(Throttle).where(
            Throttle.updated_at < now - timedelta(days=setting("THROTTLE_KNOWN_ADDRESS_DAYS")),
            Throttle.key.not_in([attempt.known_key or ""]),
        )
    )
