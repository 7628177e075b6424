"""Which roles a person holds: read from the memberships once per request, then remembered.

``app.permissions`` answers from roles alone; this module finds them. The read queries
(``app.queries``) and the services both ask here, so a request reads a person's roles in a
process once however many recommendations it shows or changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from flask import g, has_request_context
from sqlalchemy import bindparam, select

from .extensions import db
from .models import DepartmentMember, Membership, Statement
from .permissions import NO_ROLES
from .workflow.definition import DEPARTMENT


class Authored(Protocol):
    """A recommendation as a model or a view: what ``roles_for`` reads of it."""

    @property
    def id(self) -> int: ...

    @property
    def process_id(self) -> int: ...

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
            db.session.scalars(_ROLES_QUERY, {"user_id": uid, "process_id": process_id}).all()
        )
    return known[(uid, process_id)]


def remember_roles(user: Any, process_id: int, roles: Iterable[str]) -> None:
    """What ``user`` holds in a process, read along with something else (``queries.recommendation_view``)."""
    uid = user_id(user)
    if uid is not None and has_request_context():
        g.setdefault(_ROLES_KEY, {})[(uid, process_id)] = NO_ROLES | frozenset(roles)


def forget_roles() -> None:
    """Drop the roles this request has read (after it changed a membership)."""
    if has_request_context():
        for key in (_ROLES_KEY, _DEPARTMENTS_KEY, _ASKED_KEY):
            g.pop(key, None)


def department_ids(user: Any) -> frozenset[int]:
    """The departments ``user`` is a member of; read once per request (one small indexed query)."""
    uid = user_id(user)
    if uid is None:
        return frozenset()
    if has_request_context() and _DEPARTMENTS_KEY in g and g.get(_DEPARTMENTS_KEY)[0] == uid:
        return g.get(_DEPARTMENTS_KEY)[1]
    found = frozenset(db.session.scalars(_DEPARTMENTS_QUERY, {"user_id": uid}).all())
    if has_request_context():
        setattr(g, _DEPARTMENTS_KEY, (uid, found))
    return found


def remember_department_role(user: Any, recommendation_id: int, held: bool) -> None:
    """Whether ``user`` holds ``department`` for a recommendation, read along with something else."""
    uid = user_id(user)
    if uid is not None and has_request_context():
        g.setdefault(_ASKED_KEY, {})[(uid, recommendation_id)] = held


def holds_department_role(user: Any, recommendation_id: int) -> bool:
    """Whether ``user`` belongs to a department asked for a statement on the recommendation.

    Costs nothing for people in no department (the department list is read once per request,
    and most people have none); one query per recommendation for those in one."""
    uid = user_id(user)
    if uid is None:
        return False
    known = g.setdefault(_ASKED_KEY, {}) if has_request_context() else {}
    if (uid, recommendation_id) not in known:
        departments = department_ids(user)
        known[(uid, recommendation_id)] = (
            bool(departments)
            and db.session.scalar(_ASKED_QUERY, {"recommendation_id": recommendation_id, "department_ids": list(departments)})
            is not None
        )
    return known[(uid, recommendation_id)]


_ROLES_KEY = "ratschlag_process_roles"
_DEPARTMENTS_KEY = "ratschlag_departments"
_ASKED_KEY = "ratschlag_department_role"
_DEPARTMENTS_QUERY = select(DepartmentMember.department_id).where(DepartmentMember.user_id == bindparam("user_id"))
_ASKED_QUERY = (
    select(Statement.id)
    .where(
        Statement.recommendation_id == bindparam("recommendation_id"),
        Statement.department_id.in_(bindparam("department_ids", expanding=True)),
    )
    .limit(1)
)
_MEMBERSHIPS = Membership.__table__
_ROLES_QUERY = select(_MEMBERSHIPS.c.role).where(
    _MEMBERSHIPS.c.user_id == bindparam("user_id"), _MEMBERSHIPS.c.process_id == bindparam("process_id")
)


def roles_for(user: Any, recommendation: Authored, in_process: frozenset[str] | None = None) -> frozenset[str]:
    """The roles ``user`` holds for one recommendation (``in_process`` saves a query in lists)."""
    roles = process_roles(user, recommendation.process_id) if in_process is None else in_process
    uid = user_id(user)
    if uid is not None and uid in recommendation.author_ids:
        roles = roles | {"author"}
    if uid is not None and holds_department_role(user, recommendation.id):
        roles = roles | {DEPARTMENT}
    return roles
