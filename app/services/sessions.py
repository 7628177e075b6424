"""Sessions (Sitzungen) of the steering round: the agenda, decisions item by item, and the minutes.

A process's administrators create a session (title, date and time, place, participants), put on
its agenda the recommendations that wait for the steering round's decision (one by one, or all
that are ready: no statement open), reorder it, and decide item by item during the session. A
decision is the workflow's own transition (``fire``), taken with the session's id: the decision and
the agenda item record the session. Closing freezes agenda and minutes and appends a
``session.closed`` event whose data holds the chain head just before it (``SEQ:HASH``), so that
every set of minutes anchors the audit trail. Each write appends one audit event.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions, queries
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..models import CLOSED, OPEN, AgendaItem, Process, Recommendation, SteeringSession, User, utcnow
from ..queries import RecommendationView
from ..roles import process_roles, roles_for
from ..transactions import write_transaction
from ..workflow import engine
from .recommendations import fire, recommendation_for_change
from .validation import TITLE_MAX, clean_text

PLACE_MAX = 200
MINUTES_MAX = 50_000
#: At most this many items on one agenda; "add all that are ready" adds up to the rest.
AGENDA_MAX = 200
_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_held_at(value: Any) -> datetime:
    """A session's date (``YYYY-MM-DD``) or date and time (``YYYY-MM-DDTHH:MM``), local time as entered."""
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str):
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
            if 2000 <= parsed.year <= 2999:
                return parsed
    raise ValidationError(_("the date must look like 2026-03-14 or 2026-03-14T18:30"), field="held_at")


def _for_change(session_id: int, actor: Any, closed_ok: bool = False) -> tuple[SteeringSession, frozenset[str]]:
    """Load and lock a session; 404 unknown, 403 unless the actor administers its process, 409 once closed."""
    meeting = (
        db.session.scalars(
            select(SteeringSession)
            .where(SteeringSession.id == session_id)
            .execution_options(populate_existing=True)
            .with_for_update()
        ).first()
        if isinstance(session_id, int)
        else None
    )
    if meeting is None:
        raise NotFound(_("there is no session %(id)s", id=session_id))
    roles = process_roles(actor, meeting.process_id)
    if not permissions.can_manage_sessions(roles):
        raise Forbidden(_("only the process's administrators prepare and close sessions"))
    if meeting.status == CLOSED and not closed_ok:
        raise Conflict(_("the session is closed: its agenda and minutes cannot change any more"))
    return meeting, roles


def _texts(place: Any, participants: Any, notes: Any) -> dict[str, str]:
    values = {}
    if place is not None:
        values["place"] = clean_text(place, "place", PLACE_MAX, required=False) or ""
    if participants is not None:
        values["participants"] = clean_text(participants, "participants", MINUTES_MAX, required=False) or ""
    if notes is not None:
        values["notes"] = clean_text(notes, "notes", MINUTES_MAX, required=False) or ""
    return values


def create_session(
    process_id: int, actor: User, title: Any, held_at: Any, place: Any = None, participants: Any = None
) -> SteeringSession:
    title = clean_text(title, "title", TITLE_MAX)
    when = parse_held_at(held_at)
    texts = _texts(place, participants, None)
    with write_transaction() as session:
        process = session.get(Process, process_id)
        if process is None:
            raise NotFound(_("there is no process %(id)s", id=process_id))
        if not permissions.can_manage_sessions(process_roles(actor, process.id)):
            raise Forbidden(_("only the process's administrators prepare and close sessions"))
        meeting = SteeringSession(
            process_id=process.id,
            title=title,
            held_at=when,
            place=texts.get("place", ""),
            participants=texts.get("participants", ""),
            notes="",
            status=OPEN,
            created_by_id=actor.id,
            created_at=utcnow(),
        )
        session.add(meeting)
        audit.record(
            "session.created",
            meeting,
            actor,
            {
                "title": title,
                "held_at": when.strftime("%Y-%m-%dT%H:%M"),
                "place": meeting.place,
                "participants": meeting.participants,
            },
        )
    return meeting


def update_minutes(
    session_id: int, actor: User, place: Any = None, participants: Any = None, notes: Any = None
) -> SteeringSession:
    """Place, attendance and free notes, while the session is open; sending the same again records nothing."""
    texts = _texts(place, participants, notes)
    with write_transaction():
        meeting, _roles = _for_change(session_id, actor)
        changes = {k: [getattr(meeting, k), v] for k, v in texts.items() if getattr(meeting, k) != v}
        if not changes:
            return meeting
        for field, (_old, new) in changes.items():
            setattr(meeting, field, new)
        audit.record("session.updated", meeting, actor, {"changes": changes})
    return meeting


def _check_waiting(meeting: SteeringSession, rec: Recommendation) -> None:
    workflow = engine().get(rec.process.workflow_id)
    if rec.process_id != meeting.process_id:
        raise ValidationError(_("recommendation %(id)s belongs to another process", id=rec.id))
    if rec.state not in permissions.deciding_states(workflow):
        raise ValidationError(_("recommendation %(number)s does not wait for the steering round's decision", number=rec.number))


def _agenda(meeting_id: int) -> list[AgendaItem]:
    return list(db.session.scalars(select(AgendaItem).where(AgendaItem.session_id == meeting_id).order_by(AgendaItem.position)))


def add_to_agenda(session_id: int, actor: User, recommendation_id: Any) -> AgendaItem:
    if not isinstance(recommendation_id, int) or isinstance(recommendation_id, bool):
        raise ValidationError(_("'%(name)s' must be an integer", name="recommendation_id"))
    with write_transaction() as session:
        meeting, _roles = _for_change(session_id, actor)
        try:
            rec, _workflow, _rroles = recommendation_for_change(recommendation_id, actor)
        except NotFound:
            raise ValidationError(_("there is no recommendation %(id)s", id=recommendation_id)) from None
        _check_waiting(meeting, rec)
        items = _agenda(meeting.id)
        if any(item.recommendation_id == rec.id for item in items):
            raise ValidationError(_("recommendation %(number)s is on the agenda already", number=rec.number))
        if len(items) >= AGENDA_MAX:
            raise ValidationError(_("an agenda holds at most %(max)s items", max=AGENDA_MAX))
        item = AgendaItem(session_id=meeting.id, recommendation_id=rec.id, position=len(items) + 1)
        session.add(item)
        audit.record("session.item_added", meeting, actor, {"recommendation_id": rec.id, "position": item.position})
    return item


def add_ready(session_id: int, actor: User) -> list[int]:
    """Put every recommendation that waits for a decision with no statement open on the agenda, in
    the order they are numbered; returns their ids (empty: nothing recorded)."""
    with write_transaction() as session:
        meeting, _roles = _for_change(session_id, actor)
        items = _agenda(meeting.id)
        room = AGENDA_MAX - len(items)
        ready = queries.ready_for_agenda(meeting.process, exclude_session=meeting.id, limit=max(room, 0))
        if not ready:
            return []
        for offset, rec_id in enumerate(ready, start=1):
            session.add(AgendaItem(session_id=meeting.id, recommendation_id=rec_id, position=len(items) + offset))
        audit.record("session.items_added", meeting, actor, {"recommendation_ids": ready})
    return ready


def remove_from_agenda(session_id: int, actor: User, recommendation_id: Any) -> None:
    with write_transaction() as session:
        meeting, _roles = _for_change(session_id, actor)
        items = _agenda(meeting.id)
        item = next((i for i in items if i.recommendation_id == recommendation_id), None)
        if item is None:
            raise ValidationError(_("recommendation %(id)s is not on this session's agenda", id=recommendation_id))
        if item.result_state is not None:
            raise ValidationError(_("a decided item stays on the agenda"))
        session.delete(item)
        for position, other in enumerate((i for i in items if i is not item), start=1):
            other.position = position
        audit.record("session.item_removed", meeting, actor, {"recommendation_id": item.recommendation_id})


def move_item(session_id: int, actor: User, recommendation_id: Any, offset: int) -> list[int]:
    """Move an item up (-1) or down (+1) the agenda; returns the new order of recommendation ids."""
    if offset not in (-1, 1):
        raise ValidationError(_("an item moves one place up or down"))
    with write_transaction():
        meeting, _roles = _for_change(session_id, actor)
        items = _agenda(meeting.id)
        index = next((n for n, i in enumerate(items) if i.recommendation_id == recommendation_id), None)
        if index is None:
            raise ValidationError(_("recommendation %(id)s is not on this session's agenda", id=recommendation_id))
        target = index + offset
        if not 0 <= target < len(items):
            return [i.recommendation_id for i in items]
        items[index], items[target] = items[target], items[index]
        for position, item in enumerate(items, start=1):
            item.position = position
        order = [i.recommendation_id for i in items]
        audit.record("session.agenda_reordered", meeting, actor, {"order": order})
    return order


def decide(
    session_id: int, actor: User, recommendation_id: Any, trigger: Any, note: Any, expected_version: Any
) -> RecommendationView:
    """Decide one agenda item in the session: the workflow's transition, recorded with the session.

    Checks first that the session exists (404), that the actor administers its process (403), that
    it is open (409) and that the recommendation is on its agenda and not yet decided in it (422);
    then ``fire`` checks as always (version 409, trigger 422, roles 403, note 422, statements 422),
    and re-checks the session inside its write, so that a decision never lands in closed minutes.
    """
    meeting = db.session.get(SteeringSession, session_id) if isinstance(session_id, int) else None
    if meeting is None:
        raise NotFound(_("there is no session %(id)s", id=session_id))
    if not permissions.can_manage_sessions(process_roles(actor, meeting.process_id)):
        raise Forbidden(_("only the process's administrators prepare and close sessions"))
    if meeting.status == CLOSED:
        raise Conflict(_("the session is closed: its agenda and minutes cannot change any more"))
    item = (
        db.session.scalars(
            select(AgendaItem).where(AgendaItem.session_id == meeting.id, AgendaItem.recommendation_id == recommendation_id)
        ).first()
        if isinstance(recommendation_id, int)
        else None
    )
    if item is None:
        raise ValidationError(_("recommendation %(id)s is not on this session's agenda", id=recommendation_id))
    if item.result_state is not None:
        raise ValidationError(_("this item was decided in this session already"))
    return fire(recommendation_id, trigger, actor, note, expected_version, session_id=meeting.id)


@dataclass(frozen=True)
class MinutesItem:
    """One agenda item as the session's page and its minutes show it."""

    recommendation_id: int
    #: Its place on the agenda (TOP): kept in the minutes, whoever reads them.
    position: int
    number: int
    title: str
    #: The recommendation's state: now while the session is open, at closing in closed minutes.
    state: str
    result_state: str | None
    note: str | None
    decided_by_id: int | None
    decided_at: datetime | None
    #: Departments whose public statement the decision rests on; those still asked (open sessions).
    statements: list[str]
    open_statements: list[str]


def _items_now(items: list[AgendaItem]) -> list[MinutesItem]:
    ids = [item.recommendation_id for item in items]
    resting_on = queries.public_statements(ids)
    still_open = queries.open_statement_departments_of([item.recommendation_id for item in items if item.result_state is None])
    return [
        MinutesItem(
            recommendation_id=item.recommendation_id,
            position=item.position,
            number=item.recommendation.number,
            title=item.recommendation.title,
            state=item.recommendation.state,
            result_state=item.result_state,
            note=item.note,
            decided_by_id=item.decided_by_id,
            decided_at=item.decided_at,
            statements=list(dict.fromkeys(statement.department.name for statement in resting_on[item.recommendation_id])),
            open_statements=still_open.get(item.recommendation_id, []),
        )
        for item in items
    ]


def minutes_items(meeting: SteeringSession, items: list[AgendaItem]) -> list[MinutesItem]:
    """The agenda as the page shows it: ``items`` (the session's, already filtered to what the reader
    may see) as they are now while the session is open; once closed, as they were at closing.
    Sessions closed before the snapshot existed (revision 0020) are shown as they are now."""
    if meeting.minutes_json is None:
        return _items_now(items)
    frozen = {
        entry["recommendation_id"]: {"position": position, **entry}
        for position, entry in enumerate(json.loads(meeting.minutes_json), 1)
    }
    return [
        MinutesItem(**(entry | {"decided_at": entry["decided_at"] and datetime.fromisoformat(entry["decided_at"])}))
        for item in items
        if (entry := frozen.get(item.recommendation_id))
    ]


def readable_items(meeting: SteeringSession, user: Any) -> list[tuple[AgendaItem, MinutesItem]]:
    """The agenda items ``user`` may see, each with how the page shows it (``minutes_items``). Closed
    minutes are judged by the state each item had at closing: an item sent back to a draft later
    does not leave the minutes it was recorded in."""
    workflow = engine().get(meeting.process.workflow_id)
    items = {item.recommendation_id: item for item in queries.session_items(meeting.id)}
    return [
        (items[shown.recommendation_id], shown)
        for shown in minutes_items(meeting, list(items.values()))
        if permissions.can_view(
            roles_for(user, items[shown.recommendation_id].recommendation), workflow, shown.result_state or shown.state
        )
    ]


def close_session(session_id: int, actor: User, notes: Any = None) -> SteeringSession:
    """Freeze agenda and minutes; the ``session.closed`` event holds the chain head just before it.
    Closing a closed session is a 409 and changes nothing."""
    texts = _texts(None, None, notes)
    with write_transaction():
        meeting, _roles = _for_change(session_id, actor)
        if "notes" in texts:
            meeting.notes = texts["notes"]
        seq, head_hash = audit.locked_head()
        now = utcnow()
        meeting.status, meeting.closed_at, meeting.closed_by_id = CLOSED, now, actor.id
        meeting.chain_head = f"{seq}:{head_hash}"
        items = queries.session_items(meeting.id)
        frozen = [
            asdict(item) | {"open_statements": [], "decided_at": item.decided_at and item.decided_at.isoformat()}
            for item in _items_now(items)
        ]
        meeting.minutes_json = json.dumps(frozen, ensure_ascii=False, sort_keys=True)
        audit.record(
            "session.closed",
            meeting,
            actor,
            {
                "chain_head": meeting.chain_head,
                "items": [
                    {"recommendation_id": i.recommendation_id, "trigger": i.trigger, "state": i.result_state} for i in items
                ],
                "notes": meeting.notes,
                "participants": meeting.participants,
            },
        )
    return meeting
