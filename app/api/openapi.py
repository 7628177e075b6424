"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Schemas are plain JSON Schema (OpenAPI 3.1), so the test suite validates every
answer it receives against them: the document cannot drift from the code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .. import audit
from ..models import FOLLOW_UP_STATUSES, PARTICIPATION_LEVELS, PROCESS_STATUSES, SESSION_STATUSES, STATEMENT_STATUSES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_DATE = {"type": "string", "format": "date"}
_PERSON = {
    "type": "object",
    "required": ["id", "name"],
    "additionalProperties": False,
    "properties": {
        "id": _INT,
        "name": {
            "type": "string",
            "description": "an erased person's is the pseudonym 'Erased person ID' (docs/auditing.md#erasure)",
        },
    },
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {
                        "type": "string",
                        "examples": [
                            "bad_request",
                            "unauthorized",
                            "forbidden",
                            "not_found",
                            "conflict",
                            "payload_too_large",
                            "invalid_transition",
                            "note_required",
                            "statements_pending",
                            "validation",
                        ],
                    },
                    "message": _STRING,
                },
            }
        },
    },
    "Person": _PERSON,
    "Decision": {
        "type": "object",
        "additionalProperties": False,
        "required": ["outcome", "state", "note", "decided_by", "decided_at"],
        "properties": {
            "outcome": _STRING,
            "state": _STRING,
            "note": _nullable(_STRING),
            "decided_by": _ref("Person"),
            "decided_at": _TIME,
        },
    },
    "Recommendation": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "process",
            "number",
            "title",
            "body",
            "body_html",
            "state",
            "state_label",
            "version",
            "authors",
            "created_at",
            "updated_at",
            "due_at",
            "transitions",
            "decision",
            "html_url",
            "category",
        ],
        "properties": {
            "id": _INT,
            "process": {"type": "string", "description": "the process's slug"},
            "number": {"type": "integer", "description": "counts up per process"},
            "title": _STRING,
            "body": {"type": "string", "description": "Markdown, as written"},
            "body_html": {"type": "string", "description": "the body rendered and sanitized"},
            "state": _STRING,
            "state_label": {"type": "string", "description": "in the request's language (Accept-Language)"},
            "version": {"type": "integer", "description": "send it back with every change"},
            "authors": {"type": "array", "items": _ref("Person"), "description": "the creator first"},
            "created_at": _TIME,
            "updated_at": _TIME,
            "due_at": _nullable(_TIME),
            "transitions": {"type": "array", "items": _STRING, "description": "the triggers the caller may fire now"},
            "decision": _nullable(_ref("Decision")),
            "html_url": {"type": "string", "format": "uri"},
            "category": _nullable(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["slug", "name"],
                    "properties": {"slug": _STRING, "name": _STRING},
                    "description": "the process's category it is filed under (routes it to a department)",
                }
            ),
        },
    },
    "RecommendationPage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": _ref("Recommendation")},
            "total": _INT,
            "page": _INT,
            "per_page": _INT,
        },
    },
    "SearchPage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "total", "page", "per_page", "words"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [
                        "id",
                        "process",
                        "number",
                        "title",
                        "state",
                        "state_label",
                        "found_in",
                        "comment_id",
                        "excerpt",
                        "html_url",
                    ],
                    "properties": {
                        "id": _INT,
                        "process": _STRING,
                        "number": _INT,
                        "title": _STRING,
                        "state": _STRING,
                        "state_label": _STRING,
                        "found_in": {
                            "enum": ["text", "comment"],
                            "description": "the title or text matched, or only a comment the caller may read",
                        },
                        "comment_id": _nullable({**_INT, "description": "the comment quoted in the excerpt"}),
                        "excerpt": {"type": "string", "description": "plain text around the first match"},
                        "html_url": {"type": "string", "format": "uri"},
                    },
                },
            },
            "total": _INT,
            "page": _INT,
            "per_page": _INT,
            "words": {"type": "array", "items": _STRING, "description": "the words searched for, as understood"},
        },
    },
    "Comment": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "recommendation_id",
            "parent_id",
            "author",
            "body",
            "body_html",
            "visibility",
            "created_at",
            "hidden",
            "hidden_reason",
        ],
        "properties": {
            "id": _INT,
            "recommendation_id": _INT,
            "parent_id": _nullable(_INT),
            "author": _ref("Person"),
            "body": {**_nullable(_STRING), "description": "null when hidden, except for moderators"},
            "body_html": _nullable(_STRING),
            "visibility": {"enum": ["public", "internal"]},
            "created_at": _TIME,
            "hidden": {"type": "boolean"},
            "hidden_reason": _nullable(_STRING),
        },
    },
    "Event": {
        "type": "object",
        "additionalProperties": False,
        "description": "An audit event (format v1 or v2). v1: hash = sha256(prev_hash + canon({seq, at, actor_id, "
        "action, subject_type, subject_id, data})). v2: data_digest = sha256(salt + canon(data)), "
        "hash = sha256(prev_hash + canon({seq, v, at, actor_id, action, subject_type, subject_id, "
        "data_digest})). canon is JSON with sorted keys, no spaces, UTF-8.",
        "required": [*audit.FIELDS, "actor"],
        "properties": {
            "seq": _INT,
            "v": {"enum": [1, 2], "description": "the event format: 1 before contract v2, 2 since"},
            "at": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"},
            "actor_id": {
                **_nullable(_INT),
                "description": "null for the system, and for a report to anyone but the process's moderators",
            },
            "action": _STRING,
            "subject_type": _STRING,
            "subject_id": _nullable(_INT),
            "data": {
                **_nullable({"type": "object"}),
                "description": "null where the caller may not read what it describes, and once erased",
            },
            "salt": {
                **_nullable({"type": "string", "pattern": "^[0-9a-f]{32}$"}),
                "description": "v2: null exactly when data is withheld or erased",
            },
            "data_digest": {
                **_nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
                "description": "v2: sha256(salt + canon(data)), always shown; null for v1",
            },
            "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "withheld": {
                "const": True,
                "description": "present when the caller cannot recompute this event's "
                "hash (a v1 event's data, or an actor, withheld): check "
                "that prev_hash links and take hash as given",
            },
            "erased": {
                "const": True,
                "description": "present when a v2 event's payload was erased; its data_digest and hash still check",
            },
            "actor": _nullable(_ref("Person")),
        },
    },
    "Workflow": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "title", "noun", "noun_plural", "initial", "states", "transitions"],
        "properties": {
            "id": _STRING,
            "title": _STRING,
            "initial": _STRING,
            "noun": {
                "type": "string",
                "description": "what the workflow moves, in the caller's language "
                '("recommendation" unless the workflow file says)',
            },
            "noun_plural": {"type": "string", "description": "the same in the plural"},
            "states": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "label", "final", "outcome"],
                    "properties": {
                        "name": _STRING,
                        "label": _STRING,
                        "final": {"type": "boolean"},
                        "outcome": _nullable(_STRING),
                    },
                },
            },
            "transitions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["trigger", "source", "dest", "roles", "requires"],
                    "properties": {
                        "trigger": _STRING,
                        "source": {"type": "array", "items": _STRING},
                        "dest": _STRING,
                        "roles": {"type": "array", "items": _STRING},
                        "requires": {"type": "array", "items": _STRING},
                    },
                },
            },
        },
    },
    "Department": {
        "type": "object",
        "additionalProperties": False,
        "required": ["slug", "name"],
        "properties": {"slug": _STRING, "name": _STRING},
    },
    "Category": {
        "type": "object",
        "additionalProperties": False,
        "required": ["slug", "name", "department", "routed_to"],
        "properties": {
            "slug": _STRING,
            "name": _STRING,
            "department": _nullable(_ref("Department")),
            "routed_to": {
                "type": "string",
                "enum": ["department", "moderators"],
                "description": "moderators when the category names no department or a deactivated one",
            },
        },
    },
    "Statement": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "recommendation_id",
            "department",
            "question",
            "status",
            "requested_by",
            "requested_at",
            "due_at",
            "overdue",
            "body",
            "body_html",
            "visibility",
            "reason",
            "answered_by",
            "answered_at",
        ],
        "properties": {
            "id": _INT,
            "recommendation_id": _INT,
            "department": _ref("Department"),
            "question": _nullable(_STRING),
            "status": {"enum": list(STATEMENT_STATUSES)},
            "requested_by": _ref("Person"),
            "requested_at": _TIME,
            "due_at": _nullable(_TIME),
            "overdue": {"type": "boolean", "description": "status requested and due_at in the past"},
            "body": {**_nullable(_STRING), "description": "the answer, Markdown, as written; null until answered"},
            "body_html": _nullable(_STRING),
            "visibility": {
                "enum": ["public", "internal"],
                "description": "public until an answer says otherwise; an internal answer is read "
                "only by the department's members and the process's moderators and "
                "administrators",
            },
            "reason": {**_nullable(_STRING), "description": "why it was declined"},
            "answered_by": {**_nullable(_ref("Person")), "description": "who answered or declined"},
            "answered_at": _nullable(_TIME),
        },
    },
    "Process": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "slug",
            "title",
            "workflow",
            "description",
            "description_html",
            "status",
            "starts_on",
            "ends_on",
            "participation",
            "contact",
            "links",
            "html_url",
        ],
        "properties": {
            "slug": _STRING,
            "title": _STRING,
            "workflow": {"type": "string", "description": "the workflow's id"},
            "description": {"type": "string", "description": "Markdown, as written; empty when not given"},
            "description_html": {"type": "string", "description": "the description as safe HTML"},
            "status": {"enum": list(PROCESS_STATUSES), "description": "where the procedure stands"},
            "starts_on": {**_nullable(_DATE), "description": "YYYY-MM-DD"},
            "ends_on": {**_nullable(_DATE), "description": "YYYY-MM-DD, never before starts_on"},
            "participation": {
                **_nullable({"enum": list(PARTICIPATION_LEVELS)}),
                "description": "the level of participation: the public is informed, consulted, "
                "or decides with the administration; null when not stated",
            },
            "contact": {"type": "string", "description": "the contact person, plain text; empty when not given"},
            "links": {
                "type": "array",
                "maxItems": 10,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["title", "url"],
                    "properties": {"title": _STRING, "url": {"type": "string", "format": "uri"}},
                },
            },
            "html_url": {"type": "string", "format": "uri", "description": "the process's web page"},
        },
    },
    "SessionSummary": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "process",
            "title",
            "held_at",
            "place",
            "status",
            "closed_at",
            "chain_head",
            "html_url",
            "minutes_pdf_url",
        ],
        "properties": {
            "id": _INT,
            "process": {"type": "string", "description": "the process's slug"},
            "title": _STRING,
            "held_at": {"type": "string", "description": "date and time as entered, local time: YYYY-MM-DDTHH:MM"},
            "place": _STRING,
            "status": {"enum": list(SESSION_STATUSES)},
            "closed_at": _nullable(_TIME),
            "chain_head": {**_nullable(_STRING), "description": "SEQ:HASH of the audit chain just before closing"},
            "html_url": _STRING,
            "minutes_pdf_url": {**_nullable(_STRING), "description": "the minutes as tagged PDF, once closed"},
        },
    },
    "AgendaItem": {
        "type": "object",
        "additionalProperties": False,
        "required": ["position", "recommendation", "decision"],
        "properties": {
            "position": _INT,
            "recommendation": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "number", "title", "state", "state_label", "version", "html_url"],
                "properties": {
                    "id": _INT,
                    "number": _INT,
                    "title": _STRING,
                    "state": _STRING,
                    "state_label": _STRING,
                    "version": _INT,
                    "html_url": _STRING,
                },
            },
            "decision": _nullable(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["trigger", "state", "note", "decided_by", "decided_at"],
                    "properties": {
                        "trigger": _STRING,
                        "state": _STRING,
                        "note": _nullable(_STRING),
                        "decided_by": _ref("Person"),
                        "decided_at": _TIME,
                    },
                }
            ),
            "at_closing": {
                "type": "object",
                "description": "Closed sessions: the item as the minutes recorded it when the session closed.",
                "additionalProperties": False,
                "required": ["title", "state", "statements"],
                "properties": {"title": _STRING, "state": _STRING, "statements": {"type": "array", "items": _STRING}},
            },
        },
    },
    "FollowUp": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "id",
            "recommendation_id",
            "status",
            "body",
            "body_html",
            "department",
            "next_due_at",
            "overdue",
            "author",
            "created_at",
        ],
        "properties": {
            "id": _INT,
            "recommendation_id": _INT,
            "status": {"enum": list(FOLLOW_UP_STATUSES)},
            "body": _STRING,
            "body_html": _STRING,
            "department": _nullable(_ref("Department")),
            "next_due_at": _nullable(_TIME),
            "overdue": {"type": "boolean"},
            "author": _ref("Person"),
            "created_at": _TIME,
        },
    },
    "Notification": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "kind", "event", "text", "note", "created_at", "read", "actor", "recommendation"],
        "properties": {
            "id": _INT,
            "kind": {"enum": ["your_turn", "authored", "statement", "reply", "deadline", "report", "followed"]},
            "event": {
                "enum": ["transition", "comment", "report", "statement", "reminder", "overdue"],
                "description": "what happened",
            },
            "text": {**_STRING, "description": "one line, in the request's language"},
            "note": {**_nullable(_STRING), "description": "the note of a transition, where there is one"},
            "created_at": {"type": "string", "format": "date-time"},
            "read": {"type": "boolean"},
            "actor": _nullable(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "name"],
                    "properties": {"id": _INT, "name": _STRING},
                }
            ),
            "recommendation": _nullable(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "title", "html_url"],
                    "properties": {"id": _INT, "title": _STRING, "html_url": {"type": "string", "format": "uri"}},
                }
            ),
        },
    },
    "ProcessList": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Process"}}},
    },
}


def _items(name: str) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(name)}},
    }


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    """The errors an operation answers; every one may also answer 400 and 429."""
    reasons = {
        400: "malformed JSON, or NUL characters in the address or query (bad_request)",
        401: "missing or invalid token (unauthorized)",
        403: "the caller's roles do not allow it (forbidden)",
        404: "unknown, or not visible to the caller (not_found)",
        413: "body larger than 1 MiB (payload_too_large)",
        409: "stale version, a statement answered or declined already, or a closed session (conflict)",
        422: "invalid_transition, note_required, statements_pending or validation",
        429: "too many requests for this token or address (too_many_requests)",
    }
    return {str(s): _json(_ref("Error"), reasons[s]) for s in sorted({400, 429, *statuses})}


def _body(properties: dict, required: list[str]) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "additionalProperties": False, "required": required, "properties": properties}
            }
        },
    }


def _path_id(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _INT, "description": description}


_SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
_OPTIONAL: list[dict[str, list[str]]] = [{}, {"bearer": []}]
_WRITE_ERRORS = (400, 401, 403, 404, 413, 422)


@cache
def document() -> dict:
    rec_id = _path_id("id", "the recommendation's id")
    session_id = _path_id("id", "the session's id")
    agenda_rec = _path_id("rec_id", "the id of the recommendation on the agenda")
    slug = {"name": "slug", "in": "path", "required": True, "schema": _STRING}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ratschlag API",
            "version": "1",
            "description": (
                "Recommendations moving through declared workflows, their comments and their audit trail. "
                "Writes need `Authorization: Bearer TOKEN` (`ratschlag users token EMAIL`); reads without a "
                'token act as an anonymous visitor. Errors are `{"error": {"code", "message"}}`.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/workflows/{id}": {
                "get": {
                    "summary": "A workflow's states and transitions",
                    "security": _OPTIONAL,
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STRING}],
                    "responses": {"200": _json(_ref("Workflow"), "the workflow"), **_errors(404)},
                }
            },
            "/processes": {
                "get": {
                    "summary": "Every process (listed to everyone), with its entry in the overview of procedures",
                    "security": _OPTIONAL,
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"enum": list(PROCESS_STATUSES)},
                            "description": "only processes with this status",
                        }
                    ],
                    "responses": {"200": _json(_ref("ProcessList"), "the processes, by slug"), **_errors(401, 422)},
                }
            },
            "/processes/{slug}": {
                "get": {
                    "summary": "One process with its entry in the overview of procedures",
                    "security": _OPTIONAL,
                    "parameters": [slug],
                    "responses": {"200": _json(_ref("Process"), "the process"), **_errors(401, 404)},
                }
            },
            "/processes/{slug}/recommendations": {
                "get": {
                    "summary": "The recommendations of a process the caller may see, by number",
                    "security": _OPTIONAL,
                    "parameters": [
                        slug,
                        {"name": "state", "in": "query", "schema": _STRING},
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                        },
                    ],
                    "responses": {"200": _json(_ref("RecommendationPage"), "one page"), **_errors(401, 404, 422)},
                },
                "post": {
                    "summary": "Write a new recommendation (members, moderators, administrators)",
                    "security": _SECURED,
                    "parameters": [slug],
                    "requestBody": _body({"title": _STRING, "body": _STRING, "category": _nullable(_STRING)}, ["title", "body"]),
                    "responses": {
                        "201": _json(_ref("Recommendation"), "created in the workflow's initial state"),
                        **_errors(*_WRITE_ERRORS),
                    },
                },
            },
            "/processes/{slug}/submissions": {
                "post": {
                    "summary": "Public intake: anyone sends a concern, confirmed by e-mail (workflows with intake: public)",
                    "description": (
                        "No token needed. Answers 202 whether the submission was stored or quietly dropped (the "
                        "honeypot field `website` filled in, or too many for this e-mail address), so the answer "
                        "tells nothing about the address. Nothing is visible until the link mailed to `email` is "
                        "confirmed; confirming creates the recommendation in the workflow's initial state. 404 for "
                        "a process whose workflow takes no submissions; 429 (with Retry-After) for too many from "
                        "one address."
                    ),
                    "security": [{}],
                    "parameters": [slug],
                    "requestBody": _body(
                        {
                            "name": _STRING,
                            "email": _STRING,
                            "title": _STRING,
                            "body": _STRING,
                            "category": _STRING,
                            "website": _STRING,
                        },
                        ["email", "title", "body"],
                    ),
                    "responses": {
                        "202": _json(
                            {
                                "type": "object",
                                "required": ["status", "message"],
                                "properties": {"status": {"const": "pending_confirmation"}, "message": _STRING},
                                "additionalProperties": False,
                            },
                            "received; a confirmation link is on its way",
                        ),
                        **_errors(400, 404, 413, 422, 429),
                    },
                },
            },
            "/search": {
                "get": {
                    "summary": "Full-text search across processes: recommendations whose title or text, or a comment "
                    "the caller may read, holds every word of q (German stemming on PostgreSQL, word prefixes on SQLite); "
                    "only what the caller may open. Best matches in the text first, then those found in comments",
                    "security": _OPTIONAL,
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                            "description": "words; operators and quotes are read as plain text, only the first 8 words count",
                        },
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 1}},
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                        },
                    ],
                    "responses": {"200": _json(_ref("SearchPage"), "one page of hits"), **_errors(401, 422)},
                }
            },
            "/recommendations/{id}": {
                "get": {
                    "summary": "One recommendation",
                    "security": _OPTIONAL,
                    "parameters": [rec_id],
                    "responses": {"200": _json(_ref("Recommendation"), "the recommendation"), **_errors(401, 404)},
                },
                "patch": {
                    "summary": "Edit title and/or body where the state's editable_by allows the caller",
                    "security": _SECURED,
                    "parameters": [rec_id],
                    "requestBody": _body(
                        {"title": _STRING, "body": _STRING, "category": _nullable(_STRING), "version": _INT}, ["version"]
                    ),
                    "responses": {
                        "200": _json(_ref("Recommendation"), "the edited recommendation"),
                        **_errors(*_WRITE_ERRORS, 409),
                    },
                },
            },
            "/recommendations/{id}/transitions": {
                "post": {
                    "summary": "Fire a transition. Checks in order: 409 stale version, 422 invalid_transition, "
                    "403 role, 422 note_required, 422 statements_pending",
                    "security": _SECURED,
                    "parameters": [rec_id],
                    "requestBody": _body(
                        {"trigger": _STRING, "note": _nullable(_STRING), "version": _INT}, ["trigger", "version"]
                    ),
                    "responses": {
                        "200": _json(_ref("Recommendation"), "the recommendation in its new state"),
                        **_errors(*_WRITE_ERRORS, 409),
                    },
                }
            },
            "/recommendations/{id}/events": {
                "get": {
                    "summary": "The audit events about this recommendation and its comments, oldest first",
                    "security": _OPTIONAL,
                    "parameters": [rec_id],
                    "responses": {"200": _json(_items("Event"), "the events"), **_errors(401, 404)},
                }
            },
            "/recommendations/{id}/comments": {
                "get": {
                    "summary": "The comments the caller may see, oldest first",
                    "security": _OPTIONAL,
                    "parameters": [rec_id],
                    "responses": {"200": _json(_items("Comment"), "the comments"), **_errors(401, 404)},
                },
                "post": {
                    "summary": "Write a comment; internal ones by moderators and administrators only",
                    "security": _SECURED,
                    "parameters": [rec_id],
                    "requestBody": _body(
                        {"body": _STRING, "parent_id": _nullable(_INT), "visibility": {"enum": ["public", "internal"]}}, ["body"]
                    ),
                    "responses": {"201": _json(_ref("Comment"), "the comment"), **_errors(*_WRITE_ERRORS)},
                },
            },
            "/comments/{id}/hide": {
                "post": {
                    "summary": "Hide a comment with a reason (the process's moderators only)",
                    "security": _SECURED,
                    "parameters": [_path_id("id", "the comment's id")],
                    "requestBody": _body({"reason": _STRING}, ["reason"]),
                    "responses": {"200": _json(_ref("Comment"), "the hidden comment"), **_errors(*_WRITE_ERRORS)},
                }
            },
            "/notifications": {
                "get": {
                    "summary": "The caller's in-app notifications, newest first (about what the caller may still see)",
                    "security": _SECURED,
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                        },
                        {
                            "name": "before",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1},
                            "description": "only notifications with a smaller id (the next page)",
                        },
                    ],
                    "responses": {"200": _json(_items("Notification"), "the notifications"), **_errors(401, 422)},
                }
            },
            "/departments": {
                "get": {
                    "summary": "Every department (Fachbereich)",
                    "security": _OPTIONAL,
                    "responses": {"200": _json(_items("Department"), "the departments, by name"), **_errors(401)},
                }
            },
            "/processes/{slug}/categories": {
                "get": {
                    "summary": "The process's categories and where each routes, by name",
                    "security": _OPTIONAL,
                    "parameters": [slug],
                    "responses": {"200": _json(_items("Category"), "the categories"), **_errors(401, 404)},
                },
                "post": {
                    "summary": "Define a category (administrators of the process, superusers)",
                    "security": _SECURED,
                    "parameters": [slug],
                    "requestBody": _body({"slug": _STRING, "name": _STRING, "department": _nullable(_STRING)}, ["slug", "name"]),
                    "responses": {"201": _json(_ref("Category"), "the new category"), **_errors(*_WRITE_ERRORS)},
                },
            },
            "/processes/{slug}/categories/{category}": {
                "patch": {
                    "summary": "Rename a category or route it elsewhere (department null: the moderators)",
                    "security": _SECURED,
                    "parameters": [slug, {"name": "category", "in": "path", "required": True, "schema": _STRING}],
                    "requestBody": _body({"name": _STRING, "department": _nullable(_STRING)}, []),
                    "responses": {"200": _json(_ref("Category"), "the category"), **_errors(*_WRITE_ERRORS)},
                },
            },
            "/recommendations/{id}/statements": {
                "get": {
                    "summary": "The statements on this recommendation that the caller may read, oldest first",
                    "security": _OPTIONAL,
                    "parameters": [rec_id],
                    "responses": {"200": _json(_items("Statement"), "the statements"), **_errors(401, 404)},
                },
                "post": {
                    "summary": "Ask a department for a statement (roles in the state's statements.requested_by)",
                    "security": _SECURED,
                    "parameters": [rec_id],
                    "requestBody": _body(
                        {
                            "department": {"type": "string", "description": "the department's slug"},
                            "question": _nullable(_STRING),
                            "due_days": {
                                **_nullable({"type": "integer", "minimum": 1}),
                                "description": "default: the state's due_days",
                            },
                        },
                        ["department"],
                    ),
                    "responses": {"201": _json(_ref("Statement"), "the request"), **_errors(*_WRITE_ERRORS)},
                },
            },
            "/statements/{id}/answer": {
                "post": {
                    "summary": "Answer a request (members of the asked department only)",
                    "security": _SECURED,
                    "parameters": [_path_id("id", "the statement's id")],
                    "requestBody": _body({"body": _STRING, "visibility": {"enum": ["public", "internal"]}}, ["body"]),
                    "responses": {"200": _json(_ref("Statement"), "the answered statement"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/statements/{id}/decline": {
                "post": {
                    "summary": "Decline a request with a reason (members of the asked department only)",
                    "security": _SECURED,
                    "parameters": [_path_id("id", "the statement's id")],
                    "requestBody": _body({"reason": _STRING}, ["reason"]),
                    "responses": {"200": _json(_ref("Statement"), "the declined statement"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/processes/{slug}/sessions": {
                "get": {
                    "summary": "The sessions of a process's steering round, the latest first (listed to everyone)",
                    "security": _OPTIONAL,
                    "parameters": [
                        slug,
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["items", "total", "page", "per_page"],
                                "properties": {
                                    "items": {"type": "array", "items": _ref("SessionSummary")},
                                    "total": _INT,
                                    "page": _INT,
                                    "per_page": _INT,
                                },
                            },
                            "one page",
                        ),
                        **_errors(401, 404, 422),
                    },
                },
                "post": {
                    "summary": "Create a session (the process's administrators)",
                    "security": _SECURED,
                    "parameters": [slug],
                    "requestBody": _body(
                        {
                            "title": _STRING,
                            "held_at": {"type": "string", "description": "YYYY-MM-DD or YYYY-MM-DDTHH:MM"},
                            "place": _nullable(_STRING),
                            "participants": _nullable(_STRING),
                        },
                        ["title", "held_at"],
                    ),
                    "responses": {"201": _json(_ref("Session"), "the new, open session"), **_errors(*_WRITE_ERRORS)},
                },
            },
            "/sessions/{id}": {
                "get": {
                    "summary": "A session with its agenda (the items the caller may see)",
                    "security": _OPTIONAL,
                    "parameters": [session_id],
                    "responses": {"200": _json(_ref("Session"), "the session"), **_errors(401, 404)},
                },
                "patch": {
                    "summary": "Place, attendance and notes of an open session (its process's administrators)",
                    "security": _SECURED,
                    "parameters": [session_id],
                    "requestBody": _body(
                        {"place": _nullable(_STRING), "participants": _nullable(_STRING), "notes": _nullable(_STRING)}, []
                    ),
                    "responses": {"200": _json(_ref("Session"), "the session"), **_errors(*_WRITE_ERRORS, 409)},
                },
            },
            "/sessions/{id}/agenda": {
                "post": {
                    "summary": "Put a recommendation that waits for the steering round's decision on the agenda",
                    "security": _SECURED,
                    "parameters": [session_id],
                    "requestBody": _body({"recommendation_id": _INT}, ["recommendation_id"]),
                    "responses": {"201": _json(_ref("Session"), "the session"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/sessions/{id}/agenda/{rec_id}/move": {
                "post": {
                    "summary": "Move an undecided agenda item one place up (by -1) or down (by 1)",
                    "security": _SECURED,
                    "parameters": [session_id, agenda_rec],
                    "requestBody": _body({"by": _INT}, ["by"]),
                    "responses": {"200": _json(_ref("Session"), "the session"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/sessions/{id}/agenda/{rec_id}": {
                "delete": {
                    "summary": "Take an undecided item off the agenda (422 for a decided one)",
                    "security": _SECURED,
                    "parameters": [session_id, agenda_rec],
                    "responses": {"200": _json(_ref("Session"), "the session"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/sessions/{id}/agenda/ready": {
                "post": {
                    "summary": "Put every recommendation that waits for a decision with no statement open on the agenda",
                    "security": _SECURED,
                    "parameters": [session_id],
                    "requestBody": _body({}, []),
                    "responses": {"200": _json(_ref("Session"), "the session"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/sessions/{id}/decisions": {
                "post": {
                    "summary": "Decide an agenda item: the workflow's transition, recorded with the session. Checks: "
                    "409 closed session, 422 not on the agenda, then as for transitions",
                    "security": _SECURED,
                    "parameters": [session_id],
                    "requestBody": _body(
                        {"recommendation_id": _INT, "trigger": _STRING, "note": _nullable(_STRING), "version": _INT},
                        ["recommendation_id", "trigger", "version"],
                    ),
                    "responses": {
                        "200": _json(_ref("Recommendation"), "the recommendation in its new state"),
                        **_errors(*_WRITE_ERRORS, 409),
                    },
                }
            },
            "/sessions/{id}/close": {
                "post": {
                    "summary": "Close the session: agenda and minutes freeze; the session.closed event holds the chain head",
                    "security": _SECURED,
                    "parameters": [session_id],
                    "requestBody": _body({"notes": _nullable(_STRING)}, []),
                    "responses": {"200": _json(_ref("Session"), "the closed session"), **_errors(*_WRITE_ERRORS, 409)},
                }
            },
            "/recommendations/{id}/follow-ups": {
                "get": {
                    "summary": "Reports on the implementation of an adopted recommendation, newest first",
                    "security": _OPTIONAL,
                    "parameters": [rec_id],
                    "responses": {"200": _json(_items("FollowUp"), "the reports"), **_errors(401, 404)},
                },
                "post": {
                    "summary": "Report on the implementation (the process's administrators, the departments concerned)",
                    "security": _SECURED,
                    "parameters": [rec_id],
                    "requestBody": _body(
                        {
                            "status": {"enum": list(FOLLOW_UP_STATUSES)},
                            "body": _STRING,
                            "next_days": {
                                **_nullable({"type": "integer", "minimum": 1, "maximum": 730}),
                                "description": "the next report is due in this many days",
                            },
                            "department": {**_nullable(_STRING), "description": "the responsible department's slug"},
                        },
                        ["status", "body"],
                    ),
                    "responses": {"201": _json(_ref("FollowUp"), "the report"), **_errors(*_WRITE_ERRORS)},
                },
            },
            "/": {
                "get": {
                    "summary": "Where to start: this document's address and the collections (also at /api/v1 without the slash)",
                    "security": _OPTIONAL,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["name", "version", "openapi", "links"],
                                "properties": {
                                    "name": _STRING,
                                    "version": _STRING,
                                    "openapi": _STRING,
                                    "links": {"type": "object", "additionalProperties": _STRING},
                                },
                            },
                            "the index",
                        )
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": _OPTIONAL,
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
    }


_SUMMARY: dict[str, Any] = SCHEMAS["SessionSummary"]
SCHEMAS["Session"] = {
    **_SUMMARY,
    "required": [*_SUMMARY["required"], "participants", "notes", "items"],
    "properties": {
        **_SUMMARY["properties"],
        "participants": _STRING,
        "notes": _STRING,
        "items": {"type": "array", "items": _ref("AgendaItem")},
    },
}
