"""Sign-ins as rows: a session cookie is only good while its row exists.

A cookie (Flask's session and Flask-Login's remember-me cookie alike) carries
``<user id>.<session token>.<secret>``. The secret names one row of ``sign_ins`` (only its
hash is stored); the session token is the person's, and replacing it ends every sign-in at once
(password change, deactivation, "sign out everywhere"). Signing out deletes the row, so a copied
cookie stops working with it.

Sign-ins and sign-outs are not audited (they would fill the chain with every visit); ending every
session of a person is (``user.signed_out_everywhere``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from .. import audit
from ..extensions import db
from ..ids import parse_id
from ..models import SignIn, User, utcnow
from ..transactions import write_transaction
from . import throttle

#: How long a sign-in without "remember me" lasts at most (its cookie ends with the browser anyway).
SESSION_DAYS = 31


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _lifetime(remember: bool) -> timedelta:
    if remember:
        duration = current_app.config.get("REMEMBER_COOKIE_DURATION", timedelta(days=365))
        return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))
    return timedelta(days=SESSION_DAYS)


def start_session(user_id: int, remember: bool = False, session=None) -> User:
    """A new sign-in of ``user_id``: returns the user, whose ``get_id()`` now names this session.

    Runs in its own write transaction, or in the caller's when ``session`` is given."""
    secret = secrets.token_urlsafe(24)
    now = utcnow()
    if session is None:
        with write_transaction() as session:
            user = _start(session, user_id, secret, now, remember)
    else:
        user = _start(session, user_id, secret, now, remember)
    user.session_secret = secret  # type: ignore[assignment]  # an attribute, not a column
    return user


def _start(session, user_id: int, secret: str, now, remember: bool) -> User:
    # Expired sign-ins go as new ones come (indexed; each row is deleted once).
    session.execute(delete(SignIn).where(SignIn.expires_at < now))
    session.add(SignIn(user_id=user_id, secret_hash=_hash(secret), created_at=now, expires_at=now + _lifetime(remember)))
    return session.get(User, user_id)


def sign_in(user_id: int, attempt: throttle.Attempt, remember: bool = False) -> User:
    """A right password: the sign-in starts and the throttle hears of the success, in one transaction."""
    with write_transaction() as session:
        throttle.succeeded(attempt, session)
        return start_session(user_id, remember, session)


def user_for_session(cookie_id: str) -> User | None:
    """The active user whose unexpired sign-in ``cookie_id`` names, or None. One query."""
    user_id, token, secret = (cookie_id.split(".") + ["", ""])[:3]
    if not parse_id(user_id) or not token or not secret:
        return None
    user = db.session.scalars(
        select(User)
        .join(SignIn, SignIn.user_id == User.id)
        .where(
            User.id == parse_id(user_id),
            User.session_token == token,
            User.active.is_(True),
            SignIn.secret_hash == _hash(secret),
            SignIn.expires_at > utcnow(),
        )
    ).first()
    if user is not None:
        user.session_secret = secret  # type: ignore[assignment]  # an attribute, not a column
    return user


def end_session(cookie_id: str | None) -> None:
    """Sign out: the sign-in that ``cookie_id`` names stops working, wherever its cookie is."""
    _user_id, _token, secret = ((cookie_id or "").split(".") + ["", ""])[:3]
    if not secret:
        return
    with write_transaction() as session:
        session.execute(delete(SignIn).where(SignIn.secret_hash == _hash(secret)))


def end_all_sessions(session, user: User) -> None:
    """Inside the caller's transaction: every sign-in of ``user`` ends (its event says why)."""
    user.session_token = secrets.token_hex(16)
    session.execute(delete(SignIn).where(SignIn.user_id == user.id))


def sign_out_everywhere(user_id: int) -> User:
    """The person ends every one of their sign-ins, this one included. API tokens stay."""
    with write_transaction() as session:
        user = session.get_one(User, user_id)
        end_all_sessions(session, user)
        audit.record("user.signed_out_everywhere", user, user, {})
    return user
