"""Which roles a person holds: read from the memberships once per request, then remembered.

``app.permissions`` answers from roles alone; this module finds them. The read queries
(``app.queries``) and the services both ask here, so a request reads a person's roles in a
process once however many recommendations it shows or changes.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from flask import g, has_request_context
from sqlalchemy import bindparam, select

from .extensions import db
from .models import Membership
from .permissions import NO_ROLES


class Authored(Protocol):
    """A recommendation as a model or a view: what ``roles_for`` reads of it."""
    process_id: int

    @property
    def author_ids(self) -> Iterable[int]: ...


def user_id(user: Any) -> int | None:
    """The id of a signed-in user, None for anonymous visitors."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.id


def process_roles(user: Any, process_id: int) -> frozenset[str]:
    """The roles ``user`` holds in a process, plus ``public``; read once per request."""
    uid = user_id(user)
    if uid is None:
        return NO_ROLES
    known = g.setdefault(_ROLES_KEY, {}) if has_request_context() else {}
    if (uid, process_id) not in known:
        known[(uid, process_id)] = NO_ROLES | frozenset(
            db.session.scalars(_ROLES_QUERY, {"user_id": uid, "process_id": process_id}).all())
    return known[(uid, process_id)]


def remember_roles(user: Any, process_id: int, roles: Iterable[str]) -> None:
    """What ``user`` holds in a process, read along with something else (``queries.recommendation_view``)."""
    uid = user_id(user)
    if uid is not None and has_request_context():
        g.setdefault(_ROLES_KEY, {})[(uid, process_id)] = NO_ROLES | frozenset(roles)


def forget_roles() -> None:
    """Drop the roles this request has read (after it changed a membership)."""
    if has_request_context():
        g.pop(_ROLES_KEY, None)


_ROLES_KEY = "ratschlag_process_roles"
_MEMBERSHIPS = Membership.__table__
_ROLES_QUERY = select(_MEMBERSHIPS.c.role).where(_MEMBERSHIPS.c.user_id == bindparam("user_id"),
                                                 _MEMBERSHIPS.c.process_id == bindparam("process_id"))


def roles_for(user: Any, recommendation: Authored, in_process: frozenset[str] | None = None) -> frozenset[str]:
    """The roles ``user`` holds for one recommendation (``in_process`` saves a query in lists)."""
    roles = process_roles(user, recommendation.process_id) if in_process is None else in_process
    uid = user_id(user)
    if uid is not None and uid in recommendation.author_ids:
        roles = roles | {"author"}
    return roles
