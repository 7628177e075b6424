"""Open data: a process's public recommendations with their decisions and public statements.

What an anonymous visitor may see, whoever asks: recommendations in states visible to ``public``,
their decisions, and statements whose visibility is public (requested, answered or declined).
No person's name is exported. The schema is fixed in docs/open-data.md (and
docs/open-data.schema.json); a new field may be added at the end, none is renamed or removed
while ``SCHEMA`` stays the same.

Records are read in batches of plain rows by number (keyset paging), so an export of 100,000
recommendations streams in the memory of one batch.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from . import queries
from .extensions import db
from .models import Decision, Department, Process, Recommendation, Statement

SCHEMA = "ratschlag-open-data/1"
BATCH = 500
RECOMMENDATION_COLUMNS = (
    "number",
    "title",
    "body",
    "state",
    "created_at",
    "updated_at",
    "outcome",
    "decision_state",
    "decision_note",
    "decided_at",
    "statements",
    "url",
)
STATEMENT_COLUMNS = (
    "recommendation_number",
    "department",
    "department_name",
    "question",
    "status",
    "requested_at",
    "due_at",
    "answered_at",
    "body",
    "reason",
)
#: A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def public(process: Process):
    """The condition for what the public may see of ``process``; built before a stream begins (it
    reads nothing once built), so the stream needs no model of the request's session."""
    return queries.visible(None, process)


def batches(condition, size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """The public recommendations (``condition``: ``public(process)``) as records (docs/open-data.md),
    ``size`` at a time, by number. Each record holds its decision and its public statements; ``url``
    is left to the caller."""
    columns = (
        Recommendation.id,
        Recommendation.number,
        Recommendation.title,
        Recommendation.body,
        Recommendation.state,
        Recommendation.created_at,
        Recommendation.updated_at,
        Decision.outcome,
        Decision.state.label("decision_state"),
        Decision.note,
        Decision.decided_at,
    )
    last = 0
    while True:
        rows = db.session.execute(
            select(*columns)
            .outerjoin(Decision, Decision.recommendation_id == Recommendation.id)
            .where(condition, Recommendation.number > last)
            .order_by(Recommendation.number)
            .limit(size)
        ).all()
        if not rows:
            return
        said = defaultdict(list)
        for row in db.session.execute(
            select(
                Statement.recommendation_id,
                Department.slug,
                Department.name,
                Statement.question,
                Statement.status,
                Statement.requested_at,
                Statement.due_at,
                Statement.answered_at,
                Statement.body,
                Statement.reason,
            )
            .join(Department, Department.id == Statement.department_id)
            .where(Statement.recommendation_id.in_([r.id for r in rows]), Statement.visibility == "public")
            .order_by(Statement.id)
        ):
            said[row.recommendation_id].append(
                {
                    "department": {"slug": row.slug, "name": row.name},
                    "question": row.question,
                    "status": row.status,
                    "requested_at": iso(row.requested_at),
                    "due_at": iso(row.due_at),
                    "answered_at": iso(row.answered_at),
                    "body": row.body,
                    "reason": row.reason,
                }
            )
        yield [
            {
                "number": r.number,
                "title": r.title,
                "body": r.body,
                "state": r.state,
                "created_at": iso(r.created_at),
                "updated_at": iso(r.updated_at),
                "decision": None
                if r.outcome is None
                else {"outcome": r.outcome, "state": r.decision_state, "note": r.note, "decided_at": iso(r.decided_at)},
                "statements": said[r.id],
            }
            for r in rows
        ]
        last = rows[-1].number


def json_lines(condition, head: dict[str, Any], url: Callable[[int], str]) -> Iterator[str]:
    """The JSON document, in pieces: ``head`` (schema, process), then ``recommendations`` one by one."""
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "recommendations": ['
    first = True
    for batch in batches(condition):
        for record in batch:
            record["url"] = url(record["number"])
            yield ("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False)
            first = False
    yield "\n]}\n"


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _csv(rows: Iterator[list[Any]], header: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for chunk in rows:
        for row in chunk:
            writer.writerow([_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def recommendations_csv(condition, url: Callable[[int], str]) -> Iterator[str]:
    def rows():
        for batch in batches(condition):
            yield [
                [
                    r["number"],
                    r["title"],
                    r["body"],
                    r["state"],
                    r["created_at"],
                    r["updated_at"],
                    *((r["decision"][k] for k in ("outcome", "state", "note", "decided_at")) if r["decision"] else (None,) * 4),
                    len(r["statements"]),
                    url(r["number"]),
                ]
                for r in batch
            ]

    return _csv(rows(), RECOMMENDATION_COLUMNS)


def statements_csv(condition) -> Iterator[str]:
    def rows():
        for batch in batches(condition):
            yield [
                [
                    r["number"],
                    s["department"]["slug"],
                    s["department"]["name"],
                    s["question"],
                    s["status"],
                    s["requested_at"],
                    s["due_at"],
                    s["answered_at"],
                    s["body"],
                    s["reason"],
                ]
                for r in batch
                for s in r["statements"]
            ]

    return _csv(rows(), STATEMENT_COLUMNS)


# -- feeds ---------------------------------------------------------------------------


FEED_SIZE = 50


def latest_decisions(process: Process, limit: int = FEED_SIZE) -> list[Any]:
    """The newest decisions on recommendations the public may see."""
    return list(
        db.session.execute(
            select(
                Recommendation.number, Recommendation.title, Decision.outcome, Decision.state, Decision.note, Decision.decided_at
            )
            .join(Decision, Decision.recommendation_id == Recommendation.id)
            .where(public(process))
            .order_by(Decision.decided_at.desc(), Recommendation.number.desc())
            .limit(limit)
        )
    )


def latest_public(process: Process, limit: int = FEED_SIZE) -> list[Any]:
    """The public recommendations that most recently entered their state: one that has just become
    public stands first (a feed reader shows each once, by its id)."""
    return list(
        db.session.execute(
            select(
                Recommendation.number,
                Recommendation.title,
                Recommendation.body_html,
                Recommendation.state,
                Recommendation.state_entered_at,
                Recommendation.created_at,
            )
            .where(public(process))
            .order_by(Recommendation.state_entered_at.desc(), Recommendation.number.desc())
            .limit(limit)
        )
    )
