"""Who may: one small predicate per action, used by the API, the CLI and the pages alike.

Every predicate is built from the workflow's role lists (``visible_to``,
``editable_by``, a transition's ``roles``) and the roles a user holds: the
process roles of their memberships, ``author`` for a recommendation they
wrote, and ``public`` for everyone. Being a superuser grants no process role.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from flask import g, has_request_context
from sqlalchemy import bindparam, select

from .extensions import db
from .models import Comment, Membership, Recommendation
from .workflow.definition import PUBLIC, Transition, Workflow

if TYPE_CHECKING:
    from .queries import RecommendationView

PROCESS_ROLES = ("member", "moderator", "administrator")
NO_ROLES: frozenset[str] = frozenset({PUBLIC})


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


def roles_for(user: Any, recommendation: Recommendation | RecommendationView, in_process: frozenset[str] | None = None) -> frozenset[str]:
    """The roles ``user`` holds for one recommendation (``in_process`` saves a query in lists)."""
    roles = process_roles(user, recommendation.process_id) if in_process is None else in_process
    uid = user_id(user)
    if uid is not None and uid in recommendation.author_ids:
        roles = roles | {"author"}
    return roles


def _any(roles: Iterable[str], allowed: Iterable[str]) -> bool:
    return not set(roles).isdisjoint(allowed)


# -- recommendations ------------------------------------------------------------


def can_create(roles: frozenset[str]) -> bool:
    return _any(roles, PROCESS_ROLES)


def can_view(roles: frozenset[str], workflow: Workflow, state: str) -> bool:
    definition = workflow.states.get(state)
    return definition is not None and _any(roles, definition.visible_to)


def can_edit(roles: frozenset[str], workflow: Workflow, state: str) -> bool:
    definition = workflow.states.get(state)
    return definition is not None and _any(roles, definition.editable_by)


def can_fire(roles: frozenset[str], transition: Transition) -> bool:
    return _any(roles, transition.roles)


def allowed_transitions(roles: frozenset[str], workflow: Workflow, state: str) -> list[Transition]:
    """The transitions a holder of ``roles`` may fire from ``state`` now."""
    return [t for t in workflow.outgoing(state) if can_fire(roles, t)]


def visible_states(roles: frozenset[str], workflow: Workflow) -> tuple[list[str], list[str]]:
    """States visible through ``roles`` alone, and those visible only to a recommendation's authors.

    List queries use this to filter in the database: a recommendation is listed when its
    state is in the first list, or in the second and the caller is one of its authors.
    """
    by_role = [name for name, s in workflow.states.items() if _any(roles, s.visible_to)]
    by_authorship = [name for name, s in workflow.states.items()
                     if name not in by_role and "author" in s.visible_to]
    return by_role, by_authorship


# -- comments -------------------------------------------------------------------


def can_comment(roles: frozenset[str], visibility: str) -> bool:
    """Whether a holder of ``roles`` (on a recommendation they can see) may write a comment."""
    if visibility == "internal":
        return _any(roles, ("moderator", "administrator"))
    return _any(roles, PROCESS_ROLES + ("author",))


def can_read_comment(roles: frozenset[str], comment: Comment) -> bool:
    return comment.visibility == "public" or _any(roles, ("moderator", "administrator"))


def can_read_hidden_text(roles: frozenset[str]) -> bool:
    return "moderator" in roles


def can_hide_comment(roles: frozenset[str]) -> bool:
    return "moderator" in roles


def can_edit_comment(uid: int | None, comment: Comment) -> bool:
    return uid is not None and comment.author_id == uid and not comment.hidden


def can_read_comment_text(roles: frozenset[str], comment: Comment) -> bool:
    """The text of a comment: readable when the comment is, unless hidden (then moderators only)."""
    return can_read_comment(roles, comment) and (not comment.hidden or can_read_hidden_text(roles))


MODERATION_ACTIONS = ("comment.reported", "comment.report_dismissed")


def can_read_event_data(roles: frozenset[str], action: str, comment: Comment | None) -> bool:
    """Whether the data of an event about a recommendation (or one of its comments) is for ``roles``.

    Recommendation events are for whoever sees the recommendation; what a comment said
    for those who may read it; a hiding reason wherever the comment is readable;
    reports for moderators.
    """
    if action in MODERATION_ACTIONS:
        return can_hide_comment(roles)
    if comment is None:
        return True
    if action == "comment.hidden":
        return can_read_comment(roles, comment)
    return can_read_comment_text(roles, comment)
