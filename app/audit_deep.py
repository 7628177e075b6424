"""``ratschlag audit verify --deep``: do the tables say what the events say?

The hash chain proves that no event was changed; it cannot see a table row changed behind the
application's back (a state set by SQL, a decision inserted, a membership added). This replays
the events and compares them with the tables, row by row:

- every recommendation: its state, title and body, and its decision (outcome, state, note, who);
- every comment: its body, visibility and hidden flag;
- every membership: who holds which role in which process, and that it was not revoked (nor
  ended by its holder's erasure, which ends every role the person held);
- every department membership, the same way;
- every statement: its department, question, status, answer (text and visibility) and reason
  for declining; a request made by a concern's category (no event of its own) is found in the
  ``routed`` part of its recommendation's event;
- every erased payload: a ``user.erased`` event after it lists it.

Events about one kind of subject are read ordered by subject and sequence number, beside the
table ordered by id, and merged: only the current subject's state is held, so memory stays flat
however long the chain. An erased payload (a v2 event whose data is null) cannot be compared:
the fields it would have set are unknown until a later event sets them again, and are skipped.
The same holds for the texts in which an erasure replaced the person's name by the pseudonym: the
``user.erased`` event lists those rows, and their texts are unknown until a later event sets them.
"""

from __future__ import annotations

import json
import json.scanner
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import select

from . import audit as trail
from .extensions import db
from .models import (
    ANSWERED,
    DECLINED,
    REQUESTED,
    AuditEvent,
    Comment,
    Decision,
    Department,
    DepartmentMember,
    Membership,
    Process,
    Recommendation,
    Statement,
)
from .workflow import engine

UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "unknown (erased)"})()
_BATCH = 2000


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…'"


def _differs(field: str, table: Any, expected: Any) -> str | None:
    if expected is UNKNOWN or table == expected:
        return None
    return f"{field} {_short(table)} is not what the events say ({_short(expected)})"


def _events(subject_type: str) -> Iterator[Any]:
    events = AuditEvent.__table__
    statement = (
        select(events.c.subject_id, events.c.seq, events.c.action, events.c.data, events.c.actor_id)
        .where(events.c.subject_type == subject_type, events.c.subject_id.is_not(None))
        .order_by(events.c.subject_id, events.c.seq)
    )
    return _rows(statement)


def _rows(statement) -> Iterator[Any]:
    """The statement's rows as named tuples straight from the driver, in big batches (``raw_rows``):
    the deep check reads every event and every row once, and building a result row for each was
    a third of its time."""
    shape = namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
    return map(shape._make, trail.raw_rows(statement))


_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the C scanner json.loads ends in


def _payload(event: Any) -> dict | None:
    """The event's data parsed; stored data is canonical JSON, read by the C scanner directly
    (``json.loads`` for anything else, so a malformed payload fails as it always did)."""
    data = event.data
    if data is None:
        return None
    try:
        parsed, end = _scan(data, 0)
    except StopIteration:
        return json.loads(data)
    return parsed if end == len(data) else json.loads(data)


# -- replaying one subject's events -----------------------------------------------


def _redact(said: dict, fields: tuple[str, ...]) -> None:
    """An erasure redacted the person's name in this row's texts: what they said before is unknown."""
    for field in fields:
        said[field] = UNKNOWN
    if isinstance(said.get("decision"), tuple):
        said["decision"] = (said["decision"][0], UNKNOWN, said["decision"][2])


def _redacted_at(events: Iterable[Any], redacted_at: int | None, fields: tuple[str, ...], said: dict) -> Iterable[Any]:
    """The events, with the redaction (at the erasure's number) applied to ``said`` where it happened."""
    if redacted_at is None:
        return events
    return _redacting(events, redacted_at, fields, said)


def _redacting(events: Iterable[Any], redacted_at: int | None, fields: tuple[str, ...], said: dict) -> Iterator[Any]:
    for event in events:
        if redacted_at is not None and event.seq > redacted_at:
            _redact(said, fields)
            redacted_at = None
        yield event
    if redacted_at is not None:
        _redact(said, fields)


def _recommendation(events: Iterable[Any], redacted_at: int | None = None) -> dict:
    said: dict[str, Any] = {"exists": False, "state": UNKNOWN, "title": UNKNOWN, "body": UNKNOWN, "decision": UNKNOWN}
    for event in _redacted_at(events, redacted_at, ("title", "body"), said):
        data = _payload(event)
        if event.action == "recommendation.created":
            said["exists"] = True
            for field in ("state", "title", "body"):
                said[field] = data[field] if data is not None else UNKNOWN
            said["decision"] = None
        elif event.action == "recommendation.updated":
            changes = data["changes"] if data is not None else {"title": [None, UNKNOWN], "body": [None, UNKNOWN]}
            for field, (_old, new) in changes.items():
                if field in ("title", "body"):
                    said[field] = new
        elif event.action == "recommendation.transitioned":
            said["state"] = data["to"] if data is not None else UNKNOWN
            said["decision"] = (data["to"], data.get("note"), event.actor_id) if data is not None else UNKNOWN
    return said


def _comment(events: Iterable[Any], redacted_at: int | None = None) -> dict:
    said: dict[str, Any] = {"exists": False, "body": UNKNOWN, "visibility": UNKNOWN, "hidden": UNKNOWN}
    for event in _redacted_at(events, redacted_at, ("body",), said):
        data = _payload(event)
        if event.action == "comment.created":
            said.update(
                exists=True,
                hidden=False,
                body=data["body"] if data is not None else UNKNOWN,
                visibility=data["visibility"] if data is not None else UNKNOWN,
            )
        elif event.action == "comment.edited":
            said["body"] = data["changes"]["body"][1] if data is not None else UNKNOWN
        elif event.action == "comment.hidden":
            said["hidden"] = True
    return said


def _held(
    events: Iterable[Any], granted: str, ended: str, fields: tuple[str, ...], erasures: dict[int, int] | None = None
) -> dict:
    """A membership (of a process, of a department): ``granted``, ``ended`` (or its row went), or
    ended by its holder's erasure (``erasures`` maps an erased person's id to the ``user.erased``
    event's number: their erasure ended everything they held then)."""
    said: dict[str, Any] = {"exists": False, "granted": False}
    granted_at = 0
    for event in events:
        data = _payload(event)
        if event.action == granted:
            said.update(exists=True, granted=True)
            granted_at = event.seq
            for field in fields:
                said[field] = data[field] if data is not None else UNKNOWN
        elif event.action == ended:
            said["exists"] = False
    if said["exists"] and erasures and erasures.get(said["user_id"], 0) > granted_at:
        said.update(exists=False, erased=True)
    return said


def _membership(events: Iterable[Any], erasures: dict[int, int] | None = None) -> dict:
    return _held(events, "membership.granted", "membership.revoked", ("user_id", "process", "role"), erasures)


def _department_member(events: Iterable[Any], erasures: dict[int, int] | None = None) -> dict:
    return _held(events, "department.member_added", "department.member_removed", ("department", "user_id"), erasures)


#: What a statement's events say; a request routed by a concern's category starts from its
#: recommendation's event (``_routed``).
_ASKED = {"status": REQUESTED, "body": None, "visibility": "public", "reason": None}


def _statement(events: Iterable[Any], redacted_at: int | None = None, start: dict | None = None) -> dict:
    said: dict[str, Any] = {"exists": False, **(start or {})}
    for event in _redacted_at(events, redacted_at, ("question", "body", "reason"), said):
        data = _payload(event)
        if event.action == "statement.requested":
            said.update(exists=True, **_ASKED)
            said["department"] = data["department"] if data is not None else UNKNOWN
            said["question"] = data["question"] if data is not None else UNKNOWN
        elif event.action == "statement.answered":
            said.update(status=ANSWERED, body=UNKNOWN, visibility=UNKNOWN)
            if data is not None:
                said.update(body=data["body"], visibility=data["visibility"])
        elif event.action == "statement.declined":
            said.update(status=DECLINED, reason=data["reason"] if data is not None else UNKNOWN)
    return said


def _routed() -> tuple[dict[int, dict], set[int]]:
    """Requests made by a concern's category, from their recommendations' events: ``({statement id:
    what the request said}, {ids of recommendations with an erased event})`` (such a request may have
    been in the erased payload, so its statements are taken as unknown when no event of theirs says)."""
    events = AuditEvent.__table__
    routed: dict[int, dict] = {}
    for (data,) in db.session.execute(
        select(events.c.data).where(events.c.subject_type == "recommendation", events.c.data.contains('"routed":{'))
    ):
        found = json.loads(data).get("routed")
        if isinstance(found, dict) and found.get("statement_id") is not None:
            routed.setdefault(found["statement_id"], {"exists": True, "department": found["to"], "question": None, **_ASKED})
    erased = set(
        db.session.scalars(
            select(events.c.subject_id).where(events.c.subject_type == "recommendation", events.c.v == 2, events.c.data.is_(None))
        )
    )
    return routed, erased


def _erasures() -> tuple[dict[int, int], dict[str, dict[int, int]]]:
    """Who was erased, by which event, and which rows' texts each erasure redacted (a few events: one
    per erased person): ``({user_id: seq}, {kind: {row id: seq}})``."""
    events = AuditEvent.__table__
    people: dict[int, int] = {}
    redacted: dict[str, dict[int, int]] = {}
    for user_id, seq, data in db.session.execute(
        select(events.c.subject_id, events.c.seq, events.c.data)
        .where(events.c.action == "user.erased", events.c.subject_type == "user")
        .order_by(events.c.seq)
    ):
        people[user_id] = seq
        for kind, ids in (json.loads(data).get("redacted", {}) if data is not None else {}).items():
            redacted.setdefault(kind, {}).update(dict.fromkeys(ids, seq))
    return people, redacted


# -- comparing one row with what its events said ------------------------------------


def _compare_recommendation(row: Any, said: dict) -> str | None:
    if not said["exists"]:
        return "no event records its creation"
    for field in ("state", "title", "body"):
        problem = _differs(field, getattr(row, field), said[field])
        if problem:
            return problem
    if said["decision"] is UNKNOWN:
        return None
    expected = None
    if said["decision"] is not None:
        dest, note, actor_id = said["decision"]
        workflow = engine().get(row.workflow_id)
        if dest in workflow.states and workflow.states[dest].final:
            expected = {"outcome": workflow.states[dest].outcome, "state": dest, "note": note, "decided_by": actor_id}
    table = (
        None
        if row.decision_id is None
        else {"outcome": row.outcome, "state": row.decision_state, "note": row.note, "decided_by": row.decided_by_id}
    )
    if table is None and expected is not None:
        return f"it has no decision, but the events say it was decided ({_short(expected['outcome'])})"
    if table is not None and expected is None:
        return f"decision {_short(table['outcome'])} is not what the events say (no decision)"
    if table is None or expected is None:
        return None
    for field in table:
        problem = _differs(f"decision {field}", table[field], expected[field])
        if problem:
            return problem
    return None


def _compare_comment(row: Any, said: dict) -> str | None:
    if not said["exists"]:
        return "no event records its creation"
    for field in ("body", "visibility", "hidden"):
        value = getattr(row, field)
        problem = _differs(field, bool(value) if field == "hidden" and value is not None else value, said[field])
        if problem:
            return problem
    return None


def _compare_fields(*fields: str) -> Callable[[Any, dict], str | None]:
    def compare(row: Any, said: dict) -> str | None:
        if not said["exists"]:
            if said.get("erased"):
                return "the events say it ended when its holder was erased"
            return "the events say it was removed" if said.get("granted") else "no event records it"
        for field in fields:
            problem = _differs(field, getattr(row, field), said.get(field, UNKNOWN))
            if problem:
                return problem
        return None

    return compare


def _compare_membership(row: Any, said: dict) -> str | None:
    if not said["exists"]:
        if said.get("erased"):
            return "the events say it ended when its holder was erased"
        return "the events say it was revoked" if said["granted"] else "no event grants it"
    for field in ("user_id", "process", "role"):
        problem = _differs(field, getattr(row, field), said[field])
        if problem:
            return problem
    return None


# -- merging a table with its events ------------------------------------------------


def _merge(
    kind: str,
    rows: Iterator[Any],
    events: Iterator[Any],
    replay: Callable[[Iterable[Any], int | None], dict],
    compare: Callable[[Any, dict], str | None],
    redacted: dict[int, int],
    born: Callable[[Any], dict | None] | None = None,
) -> tuple[str | None, int]:
    """Walk the table (by id) and the events (by subject, then sequence) side by side. ``born``: for a
    row that no event of its own records, what another subject's event said of it (or None)."""
    groups = groupby(events, key=itemgetter(0))  # the subject's id
    row, group, count = next(rows, None), next(groups, None), 0
    while row is not None or group is not None:
        if group is None or (row is not None and row.id < group[0]):
            assert row is not None  # the loop runs while either is left
            said = born(row) if born is not None else None
            if said is None:
                return f"{kind} {row.id}: no event records it", count
            problem = compare(row, said)
            if problem:
                return f"{kind} {row.id}: {problem}", count
            row, count = next(rows, None), count + 1
            continue
        said = replay(group[1], redacted.get(group[0]))
        if row is None or group[0] < row.id:
            if said["exists"]:
                return f"{kind} {group[0]}: the events say it exists, the table has no such row", count
            group = next(groups, None)
            continue
        problem = compare(row, said)
        if problem:
            return f"{kind} {row.id}: {problem}", count
        row, group, count = next(rows, None), next(groups, None), count + 1
    return None, count


@dataclass
class DeepResult:
    problem: str | None
    counts: dict[str, int]

    def __str__(self) -> str:
        if self.problem:
            return f"bad: {self.problem}"
        return "deep: " + ", ".join(f"{count} {kind}s" for kind, count in self.counts.items()) + " agree with the events"


def _unlisted_erasure() -> str | None:
    """The first erased payload that no later ``user.erased`` event lists. The database lets anyone
    with access blank a v2 payload (the erasure's one exception to append-only); blanking one to
    hide what an event said, and then changing the row it explains, would otherwise pass as an
    erasure. A ``user.erased`` event cannot be slipped in without rewriting the chain after it."""
    events = AuditEvent.__table__
    listed: dict[int, int] = {}
    for seq, data in db.session.execute(
        select(events.c.seq, events.c.data).where(events.c.action == "user.erased", events.c.data.is_not(None))
    ):
        listed.update(dict.fromkeys(json.loads(data).get("erased_events", ()), seq))
    erased = select(events.c.seq).where(events.c.v == 2, events.c.data.is_(None)).order_by(events.c.seq)
    for (seq,) in db.session.execute(erased.execution_options(yield_per=_BATCH)):
        if listed.get(seq, 0) <= seq:
            return f"event {seq}: its payload was erased, but no user.erased event after it lists it"
    return None


def check() -> DeepResult:
    """Compare every recommendation, comment and membership with the events; stop at the first
    row that no event explains (or that the events say should be there and is not)."""
    decisions = Decision.__table__
    recommendations = (
        select(
            Recommendation.id,
            Recommendation.state,
            Recommendation.title,
            Recommendation.body,
            Process.workflow_id,
            decisions.c.id.label("decision_id"),
            decisions.c.outcome,
            decisions.c.state.label("decision_state"),
            decisions.c.note,
            decisions.c.decided_by_id,
        )
        .join(Process, Process.id == Recommendation.process_id)
        .outerjoin(decisions, decisions.c.recommendation_id == Recommendation.id)
        .order_by(Recommendation.id)
    )
    comments = select(Comment.id, Comment.body, Comment.visibility, Comment.hidden).order_by(Comment.id)
    memberships = (
        select(Membership.id, Membership.user_id, Process.slug.label("process"), Membership.role)
        .join(Process, Process.id == Membership.process_id)
        .order_by(Membership.id)
    )
    department_members = (
        select(DepartmentMember.id, Department.slug.label("department"), DepartmentMember.user_id)
        .join(Department, Department.id == DepartmentMember.department_id)
        .order_by(DepartmentMember.id)
    )
    statements = (
        select(
            Statement.id,
            Statement.recommendation_id,
            Department.slug.label("department"),
            Statement.question,
            Statement.status,
            Statement.body,
            Statement.visibility,
            Statement.reason,
        )
        .join(Department, Department.id == Statement.department_id)
        .order_by(Statement.id)
    )
    counts: dict[str, int] = {}
    problem = _unlisted_erasure()
    if problem:
        return DeepResult(problem, counts)
    erasures, redacted = _erasures()
    routed, unknown_origin = _routed()

    def statement_born(row: Any) -> dict | None:
        """A request without events of its own: made by its concern's category, as the recommendation's
        event says; unknown (taken as it is) when that event's payload was erased."""
        if row.id in routed:
            return _statement((), redacted.get("statement", {}).get(row.id), routed[row.id])
        if row.recommendation_id in unknown_origin:
            return {"exists": True}
        return None

    def statement_replay(events: Iterable[Any], redacted_at: int | None) -> dict:
        events = iter(events)
        first = next(events, None)
        if first is None:
            return {"exists": False}
        return _statement(chain((first,), events), redacted_at, routed.get(first.subject_id))

    for kind, rows, replay, compare, born in (
        ("recommendation", recommendations, _recommendation, _compare_recommendation, None),
        ("comment", comments, _comment, _compare_comment, None),
        ("membership", memberships, lambda events, _at: _membership(events, erasures), _compare_membership, None),
        (
            "department_member",
            department_members,
            lambda events, _at: _department_member(events, erasures),
            _compare_fields("department", "user_id"),
            None,
        ),
        (
            "statement",
            statements,
            statement_replay,
            _compare_fields("department", "question", "status", "body", "visibility", "reason"),
            statement_born,
        ),
    ):
        problem, counts[kind] = _merge(kind, _rows(rows), _events(kind), replay, compare, redacted.get(kind, {}), born)
        if problem:
            return DeepResult(problem, counts)
    return DeepResult(None, counts)
