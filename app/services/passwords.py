"""Invitations and password resets: single-use, expiring links to set a password, sent by e-mail.

The database keeps only the SHA-256 of a link's secret. The secret is an HMAC of the link row's id
and a random nonce under the installation's secret key: the worker recomputes it to write the
e-mail, while a copy of the database alone yields no working link. Setting the password through
a link uses it up, ends every session of the person and revokes their API tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import CursorResult, select, update

from .. import audit
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import User, UserToken, utcnow
from ..transactions import write_transaction
from .accounts import _revoke_all_tokens, check_new_password, create_user, find_user, hash_password
from .notifications import new_mail
from .validation import require_superuser

LIFETIME = {"invitation": timedelta(days=7), "password_reset": timedelta(hours=1)}


def link_secret(token: UserToken) -> str:
    """The secret in the link of ``token`` (only its hash is stored)."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, f"{token.purpose}:{token.id}:{token.nonce}".encode(), hashlib.sha256).hexdigest()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _issue(session, user: User, purpose: str) -> UserToken:
    """A new link for ``user`` (earlier unused links of the same purpose stop working) and its mail."""
    now = utcnow()
    session.execute(
        update(UserToken)
        .where(UserToken.user_id == user.id, UserToken.purpose == purpose, UserToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = UserToken(
        user_id=user.id, purpose=purpose, nonce=secrets.token_hex(16), created_at=now, expires_at=now + LIFETIME[purpose]
    )
    session.add(token)
    session.flush()
    token.token_hash = _hash(link_secret(token))
    new_mail(session, user.id, purpose, user_token_id=token.id)
    return token


def invite_user(email: Any, name: Any, actor: User | None = None) -> User:
    """Create an account without a usable password and e-mail its holder a link to set one."""
    user, _password = create_user(email, name, password=None, actor=actor)  # a random password nobody knows
    with write_transaction() as session:
        require_superuser(actor)
        user = session.get_one(User, user.id)
        _issue(session, user, "invitation")
        audit.record("user.invited", user, actor, {"email": user.email})
    return user


#: At most one reset mail per account this often, whoever asks and from wherever: asking again
#: within it answers the same and sends nothing (the earlier link still works).
RESET_PAUSE = timedelta(minutes=10)


def request_password_reset(email: Any) -> None:
    """Queue a reset link for an active account with this address; for any other address nothing
    happens, and the caller cannot tell the difference (it answers the same)."""
    user = find_user(email) if isinstance(email, str) and len(email) <= 254 else None
    if user is None or not user.active:
        return
    with write_transaction() as session:
        # The check and the write are one transaction, the person's row locked (PostgreSQL; SQLite's
        # write transaction lets one writer in at a time anyway): two requests at the same moment
        # cannot both find no recent link and both send one.
        user = session.scalars(
            select(User).where(User.id == user.id).with_for_update().execution_options(populate_existing=True)
        ).one()
        if not user.active:
            return
        recent = session.scalar(
            select(UserToken.id).where(
                UserToken.user_id == user.id,
                UserToken.purpose == "password_reset",
                UserToken.used_at.is_(None),
                UserToken.created_at > utcnow() - RESET_PAUSE,
            )
        )
        if recent is not None:  # its link is on its way and still good: one mail, not one a request
            return
        _issue(session, user, "password_reset")


def token_for(secret: Any) -> UserToken:
    """The unused, unexpired link with this secret; NotFound for anything else."""
    token = (
        db.session.scalars(select(UserToken).where(UserToken.token_hash == _hash(secret))).first()
        if isinstance(secret, str) and 0 < len(secret) <= 128
        else None
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow() or not token.user.active:
        raise NotFound(_("This link is not valid any more. Ask for a new one."))
    return token


def set_password_with_link(secret: Any, password: Any) -> User:
    """Set the password through a link: uses the link up, ends every session and API token."""
    token = token_for(secret)
    user = token.user
    password_hash = hash_password(check_new_password(password, user.email, user.name))
    with write_transaction() as session:
        # Used up in the same statement that checks it is unused: two tabs cannot both succeed.
        used = cast(
            CursorResult,
            session.execute(
                update(UserToken)
                .where(UserToken.id == token.id, UserToken.used_at.is_(None), UserToken.expires_at > utcnow())
                .values(used_at=utcnow())
            ),
        ).rowcount
        if used != 1:
            raise ValidationError(_("This link is not valid any more. Ask for a new one."))
        user = session.get_one(User, user.id)
        user.password_hash = password_hash
        user.resident = False  # a resident (app/services/intake.py) who sets a password has an account now
        user.session_token = secrets.token_hex(16)
        _revoke_all_tokens(session, user.id)
        audit.record("user.password_set" if token.purpose == "invitation" else "user.password_reset", user, user, {})
    return user
