"""API endpoints: parse the request, call a service or a permission, serialize the answer."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import jsonify, request, url_for
from flask_babel import get_locale, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import permissions, queries, search as full_text, services
from ..disclosure import Reader
from ..errors import NotFound, ServiceError, Unauthorized, ValidationError
from ..extensions import db
from ..models import PROCESS_STATUSES, Comment, Process, Recommendation, Statement, SteeringSession
from ..notify.text import visible_notifications
from ..roles import department_ids, process_roles, roles_for
from ..services import categories, intake
from ..workflow import engine
from ..workflow.machines import UnknownWorkflow
from . import bp, serializers
from .openapi import document

PER_PAGE_DEFAULT = 20
_SURROGATE = re.compile("[\ud800-\udfff]")
PER_PAGE_MAX = 100


# -- request helpers -------------------------------------------------------------


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


def caller(required: bool = False):
    """The user behind ``Authorization: Bearer TOKEN``; None for anonymous reads.

    A session cookie never counts: the API knows bearer tokens only.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        if required:
            raise Unauthorized(_("this request needs an API token: send 'Authorization: Bearer TOKEN'"))
        return None
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_("the Authorization header must be 'Bearer TOKEN'"))
    user = services.user_for_token(token.strip())
    if user is None:
        raise Unauthorized(_("the API token is unknown, revoked, or its user is deactivated"))
    return user


def body(allowed: dict[str, tuple[type, ...]], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object in the request body, with each field's type checked."""
    raw = request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest(_("the request body is not valid UTF-8 JSON")) from None
    if not isinstance(payload, dict):
        raise ValidationError(_("the request body must be a JSON object"))
    for name in payload:
        if name not in allowed:
            raise ValidationError(_("unknown field '%(name)s' (allowed: %(allowed)s)", name=name, allowed=", ".join(allowed)))
    for name in required:
        if payload.get(name) is None:
            raise ValidationError(_("'%(name)s' is required", name=name))
    for name, value in payload.items():
        kinds = allowed[name]
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds):
            raise ValidationError(
                _("'%(name)s' must be an integer", name=name) if int in kinds else _("'%(name)s' must be a string", name=name)
            )
        if isinstance(value, str) and _SURROGATE.search(value):
            # JSON may escape half of a UTF-16 pair ("\ud800"); no database can store it.
            raise ValidationError(_("'%(name)s' must be valid Unicode text (it holds an unpaired surrogate)", name=name))
    return payload


def query_int(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(_("'%(name)s' must be a whole number", name=name)) from None
    if value < low or (high is not None and value > high):
        raise ValidationError(_("'%(name)s' must be between %(low)s and %(high)s", name=name, low=low, high=high))
    return value


def visible_recommendation(recommendation_id: int, user) -> tuple[Recommendation, Any, frozenset[str]]:
    rec = db.session.get(Recommendation, recommendation_id)
    if rec is None:
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    workflow = services.workflow_of(rec.process)
    roles = roles_for(user, rec)
    if not permissions.can_view(roles, workflow, rec.state):
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    return rec, workflow, roles


def written_recommendation(rec: Recommendation | queries.RecommendationView, user, status: int = 200):
    """The answer to a successful write: the recommendation the service returned, as it is now.

    No visibility check here: the service checked it before the change, and a
    transition may move a recommendation into a state its actor cannot see
    (the steering round sending it back to moderation).
    """
    roles = roles_for(user, rec)
    return jsonify(serializers.recommendation(rec, services.workflow_of(rec), roles)), status


def written_comment(comment: Comment, user, status: int = 200):
    """The answer to a successful comment write: the comment the service returned (it checked visibility)."""
    return jsonify(serializers.comment(comment, roles_for(user, comment.recommendation))), status


# -- endpoints -------------------------------------------------------------------


@bp.get("/", strict_slashes=False)
def index():
    """Where to start: the description and the collections, so ``/api/v1`` answers instead of 404."""
    return jsonify(
        {
            "name": "Ratschlag API",
            "version": "v1",
            "openapi": url_for("api.openapi"),
            "links": {
                "processes": url_for("api.list_processes"),
                "departments": url_for("api.list_departments"),
                "notifications": url_for("api.list_notifications"),
            },
        }
    )


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


@bp.get("/workflows/<workflow_id>")
def get_workflow(workflow_id: str):
    try:
        workflow = engine().get(workflow_id)
    except UnknownWorkflow:
        raise NotFound(_("there is no workflow '%(id)s'", id=workflow_id)) from None
    return jsonify(serializers.workflow(workflow))


@bp.get("/processes")
def list_processes():
    caller()
    query = select(Process).order_by(Process.slug)
    status = request.args.get("status") or None
    if status is not None:
        if status not in PROCESS_STATUSES:
            raise ValidationError(
                _("unknown status '%(value)s' (known: %(known)s)", value=status[:40], known=", ".join(PROCESS_STATUSES))
            )
        query = query.where(Process.status == status)
    return jsonify({"items": [serializers.process(p) for p in db.session.scalars(query)]})


@bp.get("/processes/<slug>")
def get_process(slug: str):
    caller()
    return jsonify(serializers.process(services.find_process(slug)))


@bp.post("/processes/<slug>/recommendations")
def create_recommendation(slug: str):
    user = caller(required=True)
    process = services.find_process(slug)
    payload = body({"title": (str,), "body": (str,), "category": (str,)}, required=("title", "body"))
    rec = services.create_recommendation(process.id, user, payload["title"], payload["body"], payload.get("category"))
    return written_recommendation(rec, user, 201)


@bp.post("/processes/<slug>/submissions")
def submit_concern(slug: str):
    """Public intake (docs/api.md): anyone, no token. 202 whatever became of it (stored, or quietly
    dropped by the honeypot or the per-e-mail limit), so the answer tells nothing about the address."""
    intake.intake_process(slug)
    payload = body(
        {"name": (str,), "email": (str,), "title": (str,), "body": (str,), "category": (str,), intake.HONEYPOT: (str,)},
        required=("email", "title", "body"),
    )
    intake.submit(
        slug,
        payload["email"],
        payload["title"],
        payload["body"],
        name=payload.get("name"),
        address=request.remote_addr or "",
        honeypot=payload.get(intake.HONEYPOT),
        category=payload.get("category"),
    )
    return jsonify(
        {
            "status": "pending_confirmation",
            "message": _("We have sent a link to the e-mail address; nothing is passed on until it is confirmed."),
        }
    ), 202


@bp.get("/processes/<slug>/recommendations")
def list_recommendations(slug: str):
    user = caller()
    process = services.find_process(slug)
    workflow = services.workflow_of(process)
    page = query_int("page", 1, 1, 10**9)
    per_page = query_int("per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX)
    state = request.args.get("state") or None
    if state is not None and state not in workflow.states:
        raise ValidationError(_("unknown state '%(state)s' (known: %(known)s)", state=state, known=", ".join(workflow.states)))

    roles = process_roles(user, process.id)
    counts = queries.visible_counts(user, process, roles)
    items = queries.visible_page(
        user,
        process,
        roles,
        counts,
        state,
        (page - 1) * per_page,
        per_page,
        options=(selectinload(Recommendation.author_links), selectinload(Recommendation.decision)),
    )
    return jsonify(
        {
            "items": [serializers.recommendation(r, workflow, roles_for(user, r, roles)) for r in items],
            "total": queries.total(counts, state),
            "page": page,
            "per_page": per_page,
        }
    )


@bp.get("/recommendations/<id:rec_id>")
def get_recommendation(rec_id: int):
    user = caller()
    rec, workflow, roles = visible_recommendation(rec_id, user)
    return jsonify(serializers.recommendation(rec, workflow, roles))


@bp.patch("/recommendations/<id:rec_id>")
def update_recommendation(rec_id: int):
    user = caller(required=True)
    payload = body({"title": (str,), "body": (str,), "category": (str,), "version": (int,)}, required=("version",))
    rec = services.update_recommendation(
        rec_id, user, payload["version"], payload.get("title"), payload.get("body"), payload.get("category", ...)
    )
    return written_recommendation(rec, user)


@bp.post("/recommendations/<id:rec_id>/transitions")
def fire_transition(rec_id: int):
    user = caller(required=True)
    payload = body({"trigger": (str,), "note": (str,), "version": (int,)}, required=("trigger", "version"))
    rec = services.fire(rec_id, payload["trigger"], user, payload.get("note"), payload["version"])
    return written_recommendation(rec, user)


@bp.get("/recommendations/<id:rec_id>/comments")
def list_comments(rec_id: int):
    user = caller()
    _rec, _workflow, roles = visible_recommendation(rec_id, user)
    items = [c for c in queries.comments_of(rec_id) if permissions.can_read_comment(roles, c)]
    return jsonify({"items": [serializers.comment(c, roles) for c in items]})


@bp.post("/recommendations/<id:rec_id>/comments")
def create_comment(rec_id: int):
    user = caller(required=True)
    payload = body({"body": (str,), "parent_id": (int,), "visibility": (str,)}, required=("body",))
    comment = services.create_comment(
        rec_id, user, payload["body"], payload.get("parent_id"), payload.get("visibility") or "public"
    )
    return written_comment(comment, user, 201)


@bp.post("/comments/<id:comment_id>/hide")
def hide_comment(comment_id: int):
    user = caller(required=True)
    payload = body({"reason": (str,)})
    return written_comment(services.hide_comment(comment_id, user, payload.get("reason")), user)


@bp.get("/recommendations/<id:rec_id>/events")
def list_events(rec_id: int):
    user = caller()
    visible_recommendation(rec_id, user)
    events = queries.events_of(rec_id)
    # Every event is listed (the chain stays checkable); what it says only to those who may read it.
    shown = Reader(user).judge(events)
    return jsonify({"items": [serializers.event(item, s) for item, s in zip(events, shown, strict=True)]})


# -- categories (docs/api.md, "Categories") -----------------------------------------------


@bp.get("/processes/<slug>/categories")
def list_categories(slug: str):
    caller()
    process = services.find_process(slug)
    return jsonify({"items": [serializers.category(c) for c in categories.categories(process.id)]})


@bp.post("/processes/<slug>/categories")
def create_category(slug: str):
    user = caller(required=True)
    process = services.find_process(slug)
    payload = body({"slug": (str,), "name": (str,), "department": (str,)}, required=("slug", "name"))
    item = categories.create_category(process, payload["slug"], payload["name"], payload.get("department"), user)
    return jsonify(serializers.category(item)), 201


@bp.patch("/processes/<slug>/categories/<category_slug>")
def update_category(slug: str, category_slug: str):
    user = caller(required=True)
    process = services.find_process(slug)
    item = categories.find_category(process.id, category_slug)
    payload = body({"name": (str,), "department": (str,)})
    item = categories.update_category(item, user, payload.get("name"), payload.get("department", ...))
    return jsonify(serializers.category(item))


# -- departments and statements (docs/api.md, "Departments and statements") ---------------


@bp.get("/departments")
def list_departments():
    caller()
    return jsonify({"items": [serializers.department(d) for d in queries.departments()]})


def readable_statements(rec_id: int, user) -> list[Statement]:
    _rec, _workflow, roles = visible_recommendation(rec_id, user)
    mine = department_ids(user)
    return [s for s in queries.statements_of(rec_id) if permissions.can_read_statement(roles, s, s.department_id in mine)]


@bp.get("/recommendations/<id:rec_id>/statements")
def list_statements(rec_id: int):
    user = caller()
    return jsonify({"items": [serializers.statement(s) for s in readable_statements(rec_id, user)]})


@bp.post("/recommendations/<id:rec_id>/statements")
def request_statement(rec_id: int):
    user = caller(required=True)
    payload = body({"department": (str,), "question": (str,), "due_days": (int,)}, required=("department",))
    statement = services.request_statement(rec_id, user, payload["department"], payload.get("question"), payload.get("due_days"))
    return jsonify(serializers.statement(statement)), 201


@bp.post("/statements/<id:statement_id>/answer")
def answer_statement(statement_id: int):
    user = caller(required=True)
    payload = body({"body": (str,), "visibility": (str,)}, required=("body",))
    statement = services.answer_statement(statement_id, user, payload["body"], payload.get("visibility") or "public")
    return jsonify(serializers.statement(statement))


@bp.post("/statements/<id:statement_id>/decline")
def decline_statement(statement_id: int):
    user = caller(required=True)
    payload = body({"reason": (str,)})
    return jsonify(serializers.statement(services.decline_statement(statement_id, user, payload.get("reason"))))


# -- sessions of the steering round, follow-up (docs/api.md) ------------------------------


def _session(session_id: int) -> SteeringSession:
    meeting = db.session.get(SteeringSession, session_id)
    if meeting is None:
        raise NotFound(_("there is no session %(id)s", id=session_id))
    return meeting


def session_answer(meeting: SteeringSession, user, status: int = 200):
    workflow = engine().get(meeting.process.workflow_id)
    pairs = services.readable_items(meeting, user)
    return jsonify(serializers.session(meeting, [item for item, _ in pairs], workflow, [shown for _, shown in pairs])), status


@bp.get("/processes/<slug>/sessions")
def list_sessions(slug: str):
    caller()
    process = services.find_process(slug)
    page = query_int("page", 1, 1, 10**9)
    per_page = query_int("per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX)
    items, total = queries.sessions_of(process.id, (page - 1) * per_page, per_page)
    return jsonify({"items": [serializers.session_summary(s) for s in items], "total": total, "page": page, "per_page": per_page})


@bp.post("/processes/<slug>/sessions")
def create_session(slug: str):
    user = caller(required=True)
    process = services.find_process(slug)
    payload = body({"title": (str,), "held_at": (str,), "place": (str,), "participants": (str,)}, required=("title", "held_at"))
    meeting = services.create_session(
        process.id, user, payload["title"], payload["held_at"], payload.get("place"), payload.get("participants")
    )
    return session_answer(meeting, user, 201)


@bp.get("/sessions/<id:session_id>")
def get_session(session_id: int):
    user = caller()
    return session_answer(_session(session_id), user)


@bp.patch("/sessions/<id:session_id>")
def update_session(session_id: int):
    user = caller(required=True)
    payload = body({"place": (str,), "participants": (str,), "notes": (str,)})
    meeting = services.update_minutes(session_id, user, payload.get("place"), payload.get("participants"), payload.get("notes"))
    return session_answer(meeting, user)


@bp.post("/sessions/<id:session_id>/agenda")
def add_agenda_item(session_id: int):
    user = caller(required=True)
    payload = body({"recommendation_id": (int,)}, required=("recommendation_id",))
    services.add_to_agenda(session_id, user, payload["recommendation_id"])
    return session_answer(_session(session_id), user, 201)


@bp.post("/sessions/<id:session_id>/agenda/<id:recommendation_id>/move")
def move_agenda_item(session_id: int, recommendation_id: int):
    """One place up (``{"by": -1}``) or down (``{"by": 1}``), as on the session's page."""
    user = caller(required=True)
    payload = body({"by": (int,)}, required=("by",))
    services.move_item(session_id, user, recommendation_id, payload["by"])
    return session_answer(_session(session_id), user)


@bp.delete("/sessions/<id:session_id>/agenda/<id:recommendation_id>")
def remove_agenda_item(session_id: int, recommendation_id: int):
    user = caller(required=True)
    services.remove_from_agenda(session_id, user, recommendation_id)
    return session_answer(_session(session_id), user)


@bp.post("/sessions/<id:session_id>/agenda/ready")
def add_ready_items(session_id: int):
    user = caller(required=True)
    body({})
    services.add_ready(session_id, user)
    return session_answer(_session(session_id), user)


@bp.post("/sessions/<id:session_id>/decisions")
def decide_in_session(session_id: int):
    user = caller(required=True)
    payload = body(
        {"recommendation_id": (int,), "trigger": (str,), "note": (str,), "version": (int,)},
        required=("recommendation_id", "trigger", "version"),
    )
    rec = services.decide(
        session_id, user, payload["recommendation_id"], payload["trigger"], payload.get("note"), payload["version"]
    )
    return written_recommendation(rec, user)


@bp.post("/sessions/<id:session_id>/close")
def close_session(session_id: int):
    user = caller(required=True)
    payload = body({"notes": (str,)})
    meeting = services.close_session(session_id, user, payload.get("notes"))
    return session_answer(meeting, user)


@bp.get("/recommendations/<id:rec_id>/follow-ups")
def list_follow_ups(rec_id: int):
    user = caller()
    visible_recommendation(rec_id, user)
    reports = queries.follow_ups_of(rec_id)  # newest first
    return jsonify({"items": [serializers.follow_up(report, latest=n == 0) for n, report in enumerate(reports)]})


@bp.post("/recommendations/<id:rec_id>/follow-ups")
def record_follow_up(rec_id: int):
    user = caller(required=True)
    payload = body({"status": (str,), "body": (str,), "next_days": (int,), "department": (str,)}, required=("status", "body"))
    report = services.record_follow_up(
        rec_id, user, payload["status"], payload["body"], payload.get("next_days"), payload.get("department")
    )
    return jsonify(serializers.follow_up(report)), 201


@bp.get("/notifications")
def list_notifications():
    """The caller's in-app notifications, newest first (``limit`` at most 100, ``before`` an id to page on)."""
    user = caller(required=True)
    limit = _whole_number("limit", 50, 1, PER_PAGE_MAX)
    before = _whole_number("before", None, 1, 2**31 - 1)  # an id: a PostgreSQL integer
    items = visible_notifications(user, str(get_locale()), limit=limit, before=before)
    return jsonify({"items": [serializers.notification(note, said) for note, said in items]})


def _whole_number(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 16) or not low <= int(raw) <= high:
        raise ValidationError(_("'%(name)s' must be a whole number from %(low)s to %(high)s", name=name, low=low, high=high))
    return int(raw)


@bp.get("/search")
def search():
    """Recommendations whose title or text, or a comment the caller may read, holds every word of ``q``."""
    user = caller()
    query = request.args.get("q", "").strip()
    if not query:
        raise ValidationError(_("'q' must name at least one word"))
    page = _whole_number("page", 1, 1, full_text.MAX_PAGES) or 1
    per_page = _whole_number("per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX) or PER_PAGE_DEFAULT
    results = full_text.search(user, query, page, per_page)
    return jsonify(
        {
            "items": [serializers.search_hit(hit) for hit in results.hits],
            "total": results.total,
            "page": page,
            "per_page": per_page,
            "words": results.words,
        }
    )
