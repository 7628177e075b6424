"""Who may: one small predicate per action, used by the API, the CLI and the pages alike.

Every predicate is built from the workflow's role lists (``visible_to``,
``editable_by``, a transition's ``roles``) and the roles a user holds: the
process roles of their memberships, ``author`` for a recommendation they
wrote, and ``public`` for everyone. Being a superuser grants no process role.

The predicates are pure: they read no database and no request. ``app.roles`` finds the
roles a person holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .models import Statement
from .workflow.definition import DEPARTMENT, PUBLIC, Transition, Workflow


class CommentFacts(Protocol):
    """What the comment predicates read: a ``Comment`` or the threads' plain ``CommentView``."""

    @property
    def visibility(self) -> str: ...

    @property
    def author_id(self) -> int: ...

    @property
    def hidden(self) -> bool: ...


PROCESS_ROLES = ("member", "moderator", "administrator")
NO_ROLES: frozenset[str] = frozenset({PUBLIC})


def _any(roles: Iterable[str], allowed: Iterable[str]) -> bool:
    return not set(roles).isdisjoint(allowed)


# -- processes ------------------------------------------------------------------


def can_edit_overview(roles: frozenset[str], is_superuser: bool) -> bool:
    """Who keeps a process's entry in the overview of procedures (description, status, dates,
    level of participation, contact, links): superusers, who set processes up, and the process's
    administrators, who run it. Members and moderators do not; nor does anyone else."""
    return is_superuser or "administrator" in roles


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
    """Whether a holder of ``roles`` may fire ``transition`` (the machine's first guard).

    Separation of duties: a recommendation's own authors fire only transitions open to
    ``author``, whatever other role they hold in the process, so nobody moderates or decides
    their own text.
    """
    if "author" in roles and "author" not in transition.roles:
        return False
    return _any(roles, transition.roles)


def visible_states(roles: frozenset[str], workflow: Workflow) -> tuple[list[str], list[str]]:
    """States visible through ``roles`` alone, and those visible only to a recommendation's authors.

    List queries use this to filter in the database: a recommendation is listed when its
    state is in the first list, or in the second and the caller is one of its authors.
    """
    by_role = [name for name, s in workflow.states.items() if _any(roles, s.visible_to)]
    by_authorship = [name for name, s in workflow.states.items() if name not in by_role and "author" in s.visible_to]
    return by_role, by_authorship


def department_states(roles: frozenset[str], workflow: Workflow) -> list[str]:
    """States visible only through the ``department`` role (not through ``roles``): list queries
    show a recommendation in them to members of a department asked for a statement on it."""
    return [name for name, s in workflow.states.items() if DEPARTMENT in s.visible_to and not _any(roles, s.visible_to)]


# -- statements -----------------------------------------------------------------


def can_request_statement(roles: frozenset[str], workflow: Workflow, state: str) -> bool:
    """Whether a holder of ``roles`` may ask a department for a statement in ``state``."""
    definition = workflow.states.get(state)
    return definition is not None and definition.statements is not None and _any(roles, definition.statements.requested_by)


def can_read_statement(roles: frozenset[str], statement: Statement, in_department: bool) -> bool:
    """On a recommendation the reader can see: an internal answer only for the department's members
    and the process's moderators and administrators; a request, a refusal and a public answer for all."""
    if statement.visibility == "internal":
        return in_department or _any(roles, ("moderator", "administrator"))
    return True


def can_answer_statement(in_department: bool) -> bool:
    """Only the asked department's members answer or decline (whatever roles they hold besides)."""
    return in_department


# -- sessions of the steering round ---------------------------------------------


def can_manage_sessions(roles: frozenset[str]) -> bool:
    """Creating a session, building its agenda, keeping its minutes and closing it: the process's
    administrators (the decisions themselves are the workflow's transitions, checked as ever)."""
    return "administrator" in roles


def deciding_states(workflow: Workflow) -> list[str]:
    """States whose recommendations wait for the steering round's decision: those from which
    ``administrator`` may fire a transition into a final state."""
    return [
        name
        for name, state in workflow.states.items()
        if not state.final and any("administrator" in t.roles and workflow.states[t.dest].final for t in workflow.outgoing(name))
    ]


def takes_follow_up(workflow: Workflow, state: str) -> bool:
    """Whether a recommendation in ``state`` was decided so that its implementation is reported on."""
    definition = workflow.states.get(state)
    return definition is not None and definition.final and definition.follow_up


def can_record_follow_up(roles: frozenset[str], in_department: bool) -> bool:
    """Reporting on the implementation of an adopted recommendation: the process's administrators,
    and members of a department asked for a statement on it or named responsible for it."""
    return in_department or "administrator" in roles


# -- comments -------------------------------------------------------------------


def can_comment(roles: frozenset[str], visibility: str) -> bool:
    """Whether a holder of ``roles`` (on a recommendation they can see) may write a comment."""
    if visibility == "internal":
        return _any(roles, ("moderator", "administrator"))
    return _any(roles, PROCESS_ROLES + ("author",))


def can_read_comment(roles: frozenset[str], comment: CommentFacts) -> bool:
    return comment.visibility == "public" or _any(roles, ("moderator", "administrator"))


def can_read_hidden_text(roles: frozenset[str]) -> bool:
    return "moderator" in roles


def can_hide_comment(roles: frozenset[str]) -> bool:
    return "moderator" in roles


def can_edit_comment(uid: int | None, comment: CommentFacts) -> bool:
    return uid is not None and comment.author_id == uid and not comment.hidden


def can_read_comment_text(roles: frozenset[str], comment: CommentFacts) -> bool:
    """The text of a comment: readable when the comment is, unless hidden (then moderators only)."""
    return can_read_comment(roles, comment) and (not comment.hidden or can_read_hidden_text(roles))


MODERATION_ACTIONS = ("comment.reported", "comment.report_dismissed")


def can_read_event_data(roles: frozenset[str], action: str, comment: CommentFacts | None) -> bool:
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
