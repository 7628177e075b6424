"""What a person reads in a recommendation's timeline: one sentence per audit action.

The registry maps each action name to its sentence, so display text lives in one
place and old events keep rendering after the code moves on (an unknown action
still shows, with its name).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask_babel import LazyString, gettext as _, lazy_gettext as _l

from . import permissions
from .extensions import db
from .models import AuditEvent, User, pseudonym_id
from .permissions import CommentFacts
from .workflow.definition import Workflow


@dataclass
class Entry:
    seq: int
    at: datetime
    text: str
    note: str | None = None
    comment_id: int | None = None


def _transitioned(event: AuditEvent, data: dict, workflow: Workflow, locale: str, default: str) -> tuple[str, str | None]:
    transition = workflow.transition(data.get("from", ""), data.get("trigger", ""))
    action = transition.display(locale, default) if transition else data.get("trigger", "?")
    text = _(
        "%(actor)s: %(action)s (%(source)s → %(dest)s)",
        actor=_actor(event),
        action=action,
        source=workflow.state_label(data.get("from", "?"), locale, default),
        dest=workflow.state_label(data.get("to", "?"), locale, default),
    )
    if data.get("session_id"):
        text += " " + _("in a session of the steering round")
    return text, data.get("note")


def person(name: str) -> str:
    """A person's name as pages show it: an erased person's pseudonym in the reader's language."""
    erased = pseudonym_id(name)
    return _("Erased person %(id)s", id=erased) if erased is not None else name


def _actor(event: AuditEvent) -> str:
    return person(event.actor.name) if event.actor is not None else _("The system")


def _reporter(event: AuditEvent, data: dict) -> str:
    """Who reported: named in the payload (reports since the salted reporter), else the event's actor."""
    if event.actor is None and isinstance(data.get("user_id"), int):
        reporter = db.session.get(User, data["user_id"])
        if reporter is not None:
            return person(reporter.name)
    return _actor(event)


def _author_added(event: AuditEvent, data: dict, *_args) -> tuple[str, str | None]:
    if "name" not in data:  # erased
        return _("%(actor)s added a co-author.", actor=_actor(event)), None
    return _("%(actor)s added %(name)s as co-author.", actor=_actor(event), name=person(data["name"])), None


Sentence = Callable[[AuditEvent, dict, Workflow, str, str], tuple[str, str | None]]

SENTENCES: dict[str, Sentence] = {
    # Worded for every workflow (a recommendation, a concern ...): German nouns differ in gender.
    "recommendation.created": lambda e, d, *_rest: (_("%(actor)s wrote the text.", actor=_actor(e)), None),
    "recommendation.updated": lambda e, d, *_rest: (
        _("%(actor)s revised the text.", actor=_actor(e))
        if "body" in d.get("changes", {})
        else _("%(actor)s changed the title.", actor=_actor(e))
        if "title" in d.get("changes", {}) or not d
        else _("%(actor)s changed the category.", actor=_actor(e)),
        None,
    ),
    "recommendation.author_added": _author_added,
    "recommendation.transitioned": _transitioned,
    "comment.created": lambda e, d, *_rest: (
        _("%(actor)s wrote an internal note.", actor=_actor(e))
        if d.get("visibility") == "internal"
        else _("%(actor)s replied to a comment.", actor=_actor(e))
        if d.get("parent_id")
        else _("%(actor)s commented.", actor=_actor(e)),
        None,
    ),
    "comment.edited": lambda e, d, *_rest: (_("%(actor)s edited a comment.", actor=_actor(e)), None),
    "comment.hidden": lambda e, d, *_rest: (_("%(actor)s hid a comment.", actor=_actor(e)), d.get("reason")),
    # What a statement says stays in the statements section, which knows who may read it.
    "statement.requested": lambda e, d, *_rest: (_("%(actor)s asked a department for a statement.", actor=_actor(e)), None),
    "statement.answered": lambda e, d, *_rest: (_("%(actor)s gave the department's statement.", actor=_actor(e)), None),
    "statement.declined": lambda e, d, *_rest: (_("%(actor)s declined to give a statement.", actor=_actor(e)), None),
}

#: Actions only moderators see in a timeline.
MODERATION_ONLY = {
    "comment.reported": lambda e, d, *_rest: (
        _("%(actor)s reported a comment to moderation.", actor=_reporter(e, d)),
        d.get("reason"),
    ),
    "comment.report_dismissed": lambda e, d, *_rest: (_("%(actor)s dismissed a report.", actor=_actor(e)), None),
}


def entries(
    events: Iterable[AuditEvent],
    comments: Mapping[int, CommentFacts],
    workflow: Workflow,
    roles: frozenset[str],
    locale: str,
    default_locale: str,
) -> list[Entry]:
    """The timeline ``roles`` may read; events about comments they cannot read are left out."""
    result = []
    for event in events:
        data = json.loads(event.data) if event.data is not None else {}  # an erased payload tells no details
        comment_id = event.subject_id if event.subject_type == "comment" else data.get("comment_id")
        comment = comments.get(comment_id) if comment_id else None
        if comment is not None and not permissions.can_read_comment(roles, comment):
            continue
        if not permissions.can_read_event_data(roles, event.action, comment) and event.action in MODERATION_ONLY:
            continue
        sentence = SENTENCES.get(event.action) or MODERATION_ONLY.get(event.action)
        if sentence is None:
            text, note = _("%(actor)s: %(action)s", actor=_actor(event), action=event.action), None
        else:
            text, note = sentence(event, data, workflow, locale, default_locale)
        at = datetime.strptime(event.at, "%Y-%m-%dT%H:%M:%S.%fZ")
        result.append(Entry(event.seq, at, text, note, comment_id))
    return result


#: What each audit action did, as the audit log page names it; an action missing here shows its code.
#: Every action the code records has its words here (tests/test_audit_actions.py finds them in the code).
ACTION_NAMES: dict[str, LazyString] = {
    "recommendation.created": _l("Recommendation written"),
    "recommendation.updated": _l("Recommendation revised"),
    "recommendation.author_added": _l("Co-author added"),
    "recommendation.transitioned": _l("Step in the workflow taken"),
    "comment.created": _l("Comment written"),
    "comment.edited": _l("Comment edited"),
    "comment.hidden": _l("Comment hidden"),
    "comment.reported": _l("Comment reported to moderation"),
    "comment.report_dismissed": _l("Report dismissed"),
    "statement.requested": _l("Statement requested"),
    "statement.answered": _l("Statement given"),
    "statement.declined": _l("Statement declined"),
    "follow_up.recorded": _l("Implementation report published"),
    "process.created": _l("Process set up"),
    "process.updated": _l("Overview of the procedure changed"),
    "process.answer_template_set": _l("Answer template changed"),
    "membership.granted": _l("Role given"),
    "membership.revoked": _l("Role taken away"),
    "department.created": _l("Department created"),
    "department.member_added": _l("Member added to a department"),
    "department.member_removed": _l("Member removed from a department"),
    "session.created": _l("Session prepared"),
    "session.updated": _l("Session changed"),
    "session.item_added": _l("Item put on the agenda"),
    "session.items_added": _l("Items put on the agenda"),
    "session.item_removed": _l("Item taken off the agenda"),
    "session.agenda_reordered": _l("Agenda reordered"),
    "session.closed": _l("Session closed, minutes final"),
    "user.created": _l("Account created"),
    "user.invited": _l("Person invited"),
    "user.activated": _l("Account activated"),
    "user.deactivated": _l("Account deactivated"),
    "user.erased": _l("Person erased"),
    "user.password_changed": _l("Password changed"),
    "user.password_set": _l("Password chosen from an invitation"),
    "user.password_reset": _l("Password reset"),
    "user.password_rehashed": _l("Password hash renewed"),
    "user.signed_out_everywhere": _l("Signed out everywhere"),
    "token.created": _l("API token created"),
    "token.revoked": _l("API token revoked"),
    "user.affiliation_changed": _l("Affiliation group changed"),
    "category.created": _l("Category created"),
    "category.updated": _l("Category changed"),
    "department.activated": _l("Department activated"),
    "department.deactivated": _l("Department deactivated"),
    "submission.received": _l("Submission received, awaiting confirmation"),
    "submission.confirmed": _l("Submission confirmed by its sender"),
    "submission.expired": _l("Unconfirmed submission deleted"),
    "audit.check_requested": _l("Check of the audit chain requested"),
}


def action_name(action: str) -> str:
    """The audit log's words for ``action``; its code when it has none (an action newer than this list)."""
    name = ACTION_NAMES.get(action)
    return str(name) if name is not None else action
