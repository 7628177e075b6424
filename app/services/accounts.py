"""Accounts and API tokens: people, their passwords and the tokens the API accepts."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, ClassVar

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit, statistics
from ..errors import Conflict, NotFound, TooManyAttempts, ValidationError
from ..extensions import db
from ..models import ApiToken, User, UserToken, email_form, email_key, utcnow
from ..transactions import add_unique, write_transaction
from . import signins, throttle
from .validation import EMAIL, NAME_MAX, clean_text, require_superuser

PASSWORD_MIN = 10
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def find_user(email: str) -> User | None:
    """The account of an e-mail address, whatever its case and Unicode form (``models.email_key``)."""
    return db.session.scalars(select(User).where(User.email_key == email_key(email))).first()


def create_user(
    email: str, name: str, password: str | None = None, superuser: bool = False, actor: User | None = None
) -> tuple[User, str]:
    """Create a user; returns it and its password (generated when none is given)."""
    email = clean_text(email, "e-mail", 254)
    email = email_form(email)
    if not EMAIL.match(email):
        raise ValidationError(_("'%(email)s' is not an e-mail address", email=email))
    name = clean_text(name, "name", NAME_MAX)
    if password is None:
        password = secrets.token_urlsafe(15)
    else:
        check_new_password(password, email, name)
    password_hash = hash_password(password)  # slow by design: never while holding the write lock
    with write_transaction() as session:
        require_superuser(actor)
        exists = ValidationError(_("a user with the e-mail %(email)s exists already", email=email))
        found = find_user(email)
        if found is not None and not found.resident:
            raise exists
        if found is not None:
            # A resident who sent concerns without an account (app/services/intake.py): the row becomes
            # the account, so their concerns are theirs when they sign in.
            user = session.scalars(select(User).where(User.id == found.id).with_for_update()).one()
            user.name, user.password_hash, user.is_superuser, user.resident = name, password_hash, superuser, False
        else:
            user = User(email=email, name=name, password_hash=password_hash, is_superuser=superuser, active=True)
            if not add_unique(session, user):  # created by a simultaneous request since the check above
                raise exists
        data: dict[str, Any] = {"email": email, "name": name, "superuser": superuser}
        if found is not None:
            data["was_resident"] = True
        audit.record("user.created", user, actor, data)
    return user, password


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(user: User, label: str = "") -> str:
    """Create an API token for ``user``; returns the token, of which only the hash is kept."""
    label = clean_text(label, "label", 200, required=False) or ""
    raw = "rsl_" + secrets.token_urlsafe(32)
    lifetime = int(current_app.config.get("TOKEN_LIFETIME_DAYS") or 0)
    with write_transaction() as session:
        token = ApiToken(
            user_id=user.id,
            token_hash=hash_token(raw),
            label=label,
            expires_at=utcnow() + timedelta(days=lifetime) if lifetime else None,
        )
        session.add(token)
        audit.record("token.created", token, user, {"user_id": user.id, "label": label})
    return raw


@dataclass(frozen=True, slots=True)
class Caller:
    """The person behind an API token, with what services ask of an actor."""

    id: int
    name: str
    is_superuser: bool
    is_authenticated: ClassVar[bool] = True


def _token_query():
    users, tokens = User.__table__, ApiToken.__table__
    return (
        select(users.c.id, users.c.name, users.c.is_superuser, tokens.c.id, tokens.c.last_used_at)
        .join(tokens, tokens.c.user_id == users.c.id)
        .where(
            tokens.c.token_hash == bindparam("token_hash"),
            tokens.c.revoked_at.is_(None),
            or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > bindparam("now")),
            users.c.active.is_(True),
        )
    )


# Every API request asks this: one plain statement, prepared once (loading the ORM's User for it
# took a fifth of a transition's time in the workers, sampled with py-spy).
_TOKEN_QUERY = _token_query()


def user_for_token(raw: str) -> Caller | None:
    """The active user an unrevoked, unexpired token belongs to, or None. Notes the token's last use
    (once a minute)."""
    now = utcnow()
    found = db.session.execute(_TOKEN_QUERY, {"token_hash": hash_token(raw), "now": now}).first()
    if found is None:
        return None
    user_id, name, is_superuser, token_id, last_used_at = found
    if last_used_at is None or now - last_used_at > TOKEN_TOUCH_INTERVAL:
        with write_transaction() as session:
            session.get_one(ApiToken, token_id).last_used_at = now
    return Caller(user_id, name, is_superuser)


COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678901",
        "123456789012",
        "0987654321",
        "1111111111",
        "password123",
        "passwort123",
        "qwertzuiop",
        "qwertyuiop",
        "asdfghjkl1",
        "iloveyou12",
        "letmein123",
        "sommer2024",
        "sommer2025",
        "winter2024",
        "winter2025",
        "hallo12345",
        "passwort12",
        "password12",
        "administrator",
    }
)


def check_new_password(password: Any, email: str = "", name: str = "") -> str:
    """The password policy: at least 10 characters, not common, not the person's own name or address."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise ValidationError(_("the password needs at least %(count)s characters", count=PASSWORD_MIN))
    lowered = password.lower()
    personal = {part for part in (email.lower(), email.split("@")[0].lower(), name.lower().replace(" ", "")) if len(part) >= 4}
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4 or any(part in lowered for part in personal):
        raise ValidationError(
            _(
                "the password is too easy to guess: avoid common passwords, repeated characters "
                "and your own name or e-mail address"
            )
        )
    return password


@lru_cache(maxsize=8)
def _method_prefix(method: str) -> str:
    """How werkzeug writes ``method`` with its parameters, e.g. ``scrypt:32768:8:1``."""
    return generate_password_hash("probe", method=method).split("$")[0]


def decoy_password_hash() -> str:
    """A hash of no one's password, with the current method: sign-in checks it for an unknown
    address, so that it takes as long as for a known one."""
    return _decoy(current_app.config["PASSWORD_HASH_METHOD"])


@lru_cache(maxsize=8)
def _decoy(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def rehash_password_if_needed(user_id: int, password: str) -> None:
    """After a successful sign-in, store the hash with the current method and parameters if it is older."""
    current = _method_prefix(current_app.config["PASSWORD_HASH_METHOD"])
    if db.session.get_one(User, user_id).password_hash.split("$")[0] == current:
        return
    password_hash = hash_password(password)
    with write_transaction() as session:
        user = session.get_one(User, user_id)
        user.password_hash = password_hash
        audit.record("user.password_rehashed", user, user, {})


def change_password(user_id: int, current: str, new: str, remember: bool = False) -> User:
    """Change a user's own password; every session of theirs ends, and a new one begins for the
    caller (the returned user's ``get_id()`` names it). Checks of the current password are
    throttled per account (app/services/throttle.py): past the limit this raises ``TooManyAttempts``
    without checking it."""
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None:
        raise ValidationError(_("the current password is wrong"), field="current")
    check_new_password(new, user.email, user.name)  # tells nothing about the current password
    attempt = throttle.password_attempt(user_id)
    if attempt.wait:
        raise TooManyAttempts(attempt.wait)
    # Both hashes are slow by design, so they are computed before the write transaction; the
    # write then checks that the password it verified is still the stored one.
    if not check_password_hash(user.password_hash, current or ""):
        raise ValidationError(_("the current password is wrong"), field="current")
    verified = user.password_hash
    new_hash = hash_password(new)
    with write_transaction() as session:
        user = session.get_one(User, user_id, populate_existing=True)
        if user.password_hash != verified:
            raise Conflict(_("the password was changed meanwhile; sign in again"))
        user.password_hash = new_hash
        signins.end_all_sessions(session, user)
        _revoke_all_tokens(session, user.id)
        throttle.succeeded(attempt, session)
        audit.record("user.password_changed", user, user, {})
        user = signins.start_session(user.id, remember, session)
    return user


def set_active(actor: User, user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) an account: a deactivated user's sessions and tokens stop at once."""
    with write_transaction() as session:
        require_superuser(actor)
        user = session.get(User, user_id, populate_existing=True)
        if user is None:
            raise NotFound(_("there is no user %(id)s", id=user_id))
        if user.id == actor.id and not active:
            raise ValidationError(_("you cannot deactivate your own account"))
        if user.erased_at is not None:
            raise ValidationError(_("%(name)s is erased: the account cannot be used again", name=user.name))
        if user.active == active:
            return user
        user.active = active
        signins.end_all_sessions(session, user)
        if not active:  # and reactivation does not revive them: the person creates new ones
            _revoke_all_tokens(session, user.id)
        audit.record("user.activated" if active else "user.deactivated", user, actor, {"email": user.email})
    return user


def _revoke_all_tokens(session, user_id: int) -> None:
    """End every API token and every unused password link (invitation, reset) of a person, inside
    the caller's transaction (its event says why): an invitation still lying in a mailbox must not
    set a password after a reset, a change or a deactivation."""
    now = utcnow()
    session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    session.execute(update(UserToken).where(UserToken.user_id == user_id, UserToken.used_at.is_(None)).values(used_at=now))


def revoke_tokens(user: User, label: str | None = None) -> int:
    """Revoke a user's tokens (those with ``label``, or all); returns how many were revoked."""
    with write_transaction() as session:
        query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        if label is not None:
            query = query.where(ApiToken.label == label)
        tokens = session.scalars(query.with_for_update()).all()
        now = utcnow()
        for token in tokens:
            token.revoked_at = now
            audit.record("token.revoked", token, None, {"user_id": user.id, "label": token.label})
    return len(tokens)


def set_affiliation(actor: Any, group: Any) -> bool:
    """The person states an affiliation group from the installation's list, or takes it back
    (``group`` None or ""). False when nothing changes. The event says only whether a group is
    stated, never which (docs/auditing.md)."""
    if group is not None and not isinstance(group, str):
        raise ValidationError(_("choose one of the affiliation groups"))
    group = (group or "").strip() or None
    if group is not None and group not in statistics.affiliation_groups():
        raise ValidationError(_("'%(group)s' is not one of the affiliation groups", group=group))
    with write_transaction() as session:
        user = session.scalars(select(User).where(User.id == actor.id).execution_options(populate_existing=True)).one()
        if user.affiliation == group:
            return False
        user.affiliation = group
        audit.record("user.affiliation_changed", user, actor, {"stated": group is not None})
    return True
