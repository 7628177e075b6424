"""JSON shapes of docs/api.md."""
from __future__ import annotations

from datetime import datetime

from flask import current_app, has_request_context, request, url_for
from flask_babel import get_locale

from .. import audit, permissions
from ..disclosure import Shown
from ..workflow import engine
from ..models import AuditEvent, Comment, Department, Recommendation, Statement, User, utcnow
from ..queries import RecommendationView
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
        path = path[len(root):]  # the base names the installation's own path, if it has one
    return base.rstrip("/") + path


def person(user: User | None) -> dict | None:
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
        "decision": None if decision is None else {
            "outcome": decision.outcome,
            "state": decision.state,
            "note": decision.note,
            "decided_by": person(decision.decided_by),
            "decided_at": iso(decision.decided_at),
        },
        "html_url": page_url("web.recommendation", slug=rec.process_slug, number=rec.number),
    }


def comment(item: Comment, roles: frozenset[str]) -> dict:
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
    """An event as the reader may see it (docs/auditing.md), with its actor's name."""
    return {**audit.event_dict(item, shown.data, shown.actor), "actor": person(item.actor) if shown.actor else None}


def workflow(item: Workflow) -> dict:
    return {
        "id": item.id,
        "title": text(item.title),
        "initial": item.initial,
        "states": [
            {"name": s.name, "label": text(s.label), "final": s.final, "outcome": s.outcome}
            for s in item.states.values()
        ],
        "transitions": [
            {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest,
             "roles": list(t.roles), "requires": list(t.requires)}
            for t in item.transitions
        ],
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
