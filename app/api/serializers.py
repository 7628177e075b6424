"""JSON shapes of docs/api.md."""

from __future__ import annotations

import json
from datetime import datetime

from flask import current_app, has_request_context, request, url_for
from flask_babel import get_locale

from .. import audit, permissions
from ..disclosure import Shown
from ..extensions import db
from ..models import (
    AgendaItem,
    AuditEvent,
    Category,
    Comment,
    Department,
    FollowUp,
    Process,
    Recommendation,
    Statement,
    SteeringSession,
    User,
    utcnow,
)
from ..queries import Author, CommentView, RecommendationView
from ..services.sessions import MinutesItem
from ..workflow import engine
from ..workflow.definition import Label, Workflow


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def text(label: Label) -> str:
    return label.text(str(get_locale()), current_app.config["BABEL_DEFAULT_LOCALE"])


def page_url(endpoint: str, **values) -> str:
    """The absolute address of one of our pages. Under ``RATSCHLAG_BASE_URL`` when it is set, so that
    no request's ``Host`` header chooses where the link leads; otherwise built from the request
    (then ``RATSCHLAG_TRUSTED_HOSTS`` must limit the hosts answered: docs/security.md)."""
    base = current_app.config.get("BASE_URL")
    if not base:
        return url_for(endpoint, **values, _external=True)
    path = url_for(endpoint, **values)
    root = request.script_root if has_request_context() else ""
    if root and path.startswith(root):
        path = path[len(root) :]  # the base names the installation's own path, if it has one
    return base.rstrip("/") + path


def person(user: User | Author | None) -> dict | None:
    return {"id": user.id, "name": user.name} if user is not None else None


def recommendation(rec: Recommendation | RecommendationView, workflow: Workflow, roles: frozenset[str]) -> dict:
    state = workflow.states.get(rec.state)
    decision = rec.decision
    return {
        "id": rec.id,
        "process": rec.process_slug,
        "number": rec.number,
        "title": rec.title,
        "body": rec.body,
        "body_html": rec.body_html,
        "state": rec.state,
        "state_label": text(state.label) if state else rec.state,
        "version": rec.version,
        "authors": [person(user) for user in rec.authors],
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "due_at": iso(rec.due_at),
        "transitions": [t.trigger for t in engine().allowed(workflow.id, rec.state, roles)],
        "decision": None
        if decision is None
        else {
            "outcome": decision.outcome,
            "state": decision.state,
            "note": decision.note,
            "decided_by": person(decision.decided_by),
            "decided_at": iso(decision.decided_at),
        },
        "html_url": page_url("web.recommendation", slug=rec.process_slug, number=rec.number),
        "category": None if rec.category_slug is None else {"slug": rec.category_slug, "name": rec.category_name},
    }


def category(item: Category) -> dict:
    """A process's category and where it routes (docs/api.md): ``department`` null, or deactivated
    (``routed_to: moderators``), means the process's moderators."""
    department = item.department
    return {
        "slug": item.slug,
        "name": item.name,
        "department": None if department is None else {"slug": department.slug, "name": department.name},
        "routed_to": "department" if item.routed_department is not None else "moderators",
    }


def comment(item: Comment | CommentView, roles: frozenset[str]) -> dict:
    readable = permissions.can_read_comment_text(roles, item)
    return {
        "id": item.id,
        "recommendation_id": item.recommendation_id,
        "parent_id": item.parent_id,
        "author": person(item.author),
        "body": item.body if readable else None,
        "body_html": item.body_html if readable else None,
        "visibility": item.visibility,
        "created_at": iso(item.created_at),
        "hidden": item.hidden,
        "hidden_reason": item.hidden_reason,
    }


def event(item: AuditEvent, shown: Shown) -> dict:
    """An event as the reader may see it (docs/auditing.md), with its actor's name. A report's
    reporter is in its payload (the event has no actor), named to those who may read it."""
    actor = item.actor
    if actor is None and shown.data and item.action == "comment.reported" and item.data:
        reporter = json.loads(item.data).get("user_id")
        actor = db.session.get(User, reporter) if isinstance(reporter, int) else None
    return {**audit.event_dict(item, shown.data, shown.actor), "actor": person(actor) if shown.actor and actor else None}


def workflow(item: Workflow) -> dict:
    return {
        "id": item.id,
        "title": text(item.title),
        "noun": text(item.noun),
        "noun_plural": text(item.noun_plural),
        "initial": item.initial,
        "states": [
            {"name": s.name, "label": text(s.label), "final": s.final, "outcome": s.outcome} for s in item.states.values()
        ],
        "transitions": [
            {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": t.dest,
                "roles": list(t.roles),
                "requires": list(t.requires),
            }
            for t in item.transitions
        ],
    }


def process(item: Process) -> dict:
    """A process with its entry in the overview of procedures (docs/api.md); ``slug``, ``title`` and
    ``workflow`` stay first and as they were."""
    return {
        "slug": item.slug,
        "title": item.title,
        "workflow": item.workflow_id,
        "description": item.description or "",
        "description_html": item.description_html or "",
        "status": item.status,
        "starts_on": item.starts_on.isoformat() if item.starts_on else None,
        "ends_on": item.ends_on.isoformat() if item.ends_on else None,
        "participation": item.participation,
        "contact": item.contact or "",
        "links": item.links,
        "html_url": url_for("web.process", slug=item.slug, _external=True),
    }


def department(item: Department) -> dict:
    return {"slug": item.slug, "name": item.name}


def statement(item: Statement) -> dict:
    """A statement (docs/api.md, "Departments and statements"). ``answered_by`` and ``answered_at`` name who answered or declined, and when."""
    return {
        "id": item.id,
        "recommendation_id": item.recommendation_id,
        "department": department(item.department),
        "question": item.question,
        "status": item.status,
        "requested_by": person(item.requested_by),
        "requested_at": iso(item.requested_at),
        "due_at": iso(item.due_at),
        "overdue": item.overdue(utcnow()),
        "body": item.body,
        "body_html": item.body_html,
        "visibility": item.visibility,
        "reason": item.reason,
        "answered_by": person(item.answered_by),
        "answered_at": iso(item.answered_at),
    }


def session_summary(item: SteeringSession) -> dict:
    """A session of the steering round (docs/api.md): its date as entered, local time."""
    return {
        "id": item.id,
        "process": item.process.slug,
        "title": item.title,
        "held_at": item.held_at.strftime("%Y-%m-%dT%H:%M"),
        "place": item.place,
        "status": item.status,
        "closed_at": iso(item.closed_at),
        "chain_head": item.chain_head,
        "html_url": url_for("web.session", session_id=item.id, _external=True),
        "minutes_pdf_url": url_for("web.session_pdf", session_id=item.id, _external=True) if item.closed else None,
    }


def session(item: SteeringSession, items: list[AgendaItem], workflow: Workflow, shown: list[MinutesItem]) -> dict:
    """A session with its agenda: only the items the caller may see (``shown``: the same items as
    the minutes show them; once the session is closed, as they were at closing)."""
    frozen = {entry.recommendation_id: entry for entry in shown} if item.closed and item.minutes_json else {}
    return {
        **session_summary(item),
        "participants": item.participants,
        "notes": item.notes,
        "items": [agenda_item(agenda, workflow, frozen.get(agenda.recommendation_id)) for agenda in items],
    }


def agenda_item(item: AgendaItem, workflow: Workflow, frozen: MinutesItem | None = None) -> dict:
    """``recommendation`` is the recommendation now; ``at_closing`` (closed sessions) is what the
    minutes recorded of it: its title, its state and the public statements the decision rested on."""
    rec = item.recommendation
    state = workflow.states.get(rec.state)
    closing = {}
    if frozen is not None:
        closing = {"at_closing": {"title": frozen.title, "state": frozen.state, "statements": frozen.statements}}
    return {
        "position": item.position,
        "recommendation": {
            "id": rec.id,
            "number": rec.number,
            "title": rec.title,
            "state": rec.state,
            "state_label": text(state.label) if state else rec.state,
            "version": rec.version,
            "html_url": url_for("web.recommendation", slug=rec.process.slug, number=rec.number, _external=True),
        },
        "decision": None
        if item.result_state is None
        else {
            "trigger": item.trigger,
            "state": item.result_state,
            "note": item.note,
            "decided_by": person(item.decided_by),
            "decided_at": iso(item.decided_at),
        },
        **closing,
    }


def follow_up(item: FollowUp, latest: bool = True) -> dict:
    """``latest``: the newest report, the only one whose next date can be overdue (a newer report
    answers an older one's date)."""
    return {
        "id": item.id,
        "recommendation_id": item.recommendation_id,
        "status": item.status,
        "body": item.body,
        "body_html": item.body_html,
        "department": department(item.department) if item.department is not None else None,
        "next_due_at": iso(item.next_due_at),
        "overdue": latest and item.next_due_at is not None and item.status != "done" and item.next_due_at < utcnow(),
        "author": person(item.author),
        "created_at": iso(item.created_at),
    }


def notification(note, said) -> dict:
    """An in-app notification: what happened, in the request's language, and what it is about."""
    rec = note.recommendation
    return {
        "id": note.id,
        "kind": note.kind,
        "event": note.event,
        "text": said.line,
        "note": said.note,
        "created_at": iso(note.created_at),
        "read": note.read_at is not None,
        "actor": person(note.actor),
        "recommendation": {
            "id": rec.id,
            "title": rec.title,
            "html_url": url_for("web.recommendation", slug=rec.process.slug, number=rec.number, _external=True),
        }
        if rec is not None
        else None,
    }


def search_hit(hit) -> dict:
    """One hit of ``app.search``: the recommendation in brief, where it was found, and the passage."""
    rec = hit.recommendation
    state = engine().get(rec.process.workflow_id).states.get(rec.state)
    return {
        "id": rec.id,
        "process": rec.process.slug,
        "number": rec.number,
        "title": rec.title,
        "state": rec.state,
        "state_label": text(state.label) if state else rec.state,
        "found_in": "text" if hit.comment_id is None else "comment",
        "comment_id": hit.comment_id,
        "excerpt": "".join(piece for piece, _found in hit.excerpt),
        "html_url": page_url("web.recommendation", slug=rec.process.slug, number=rec.number),
    }
