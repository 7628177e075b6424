"""Deciding and closing a session at the same time, against a real multi-worker server."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app import audit, services
from app.extensions import db
from app.models import AgendaItem, AuditEvent, SteeringSession
from tests.test_concurrency import all_at_once, call, server  # noqa: F401  (server is a fixture)

pytestmark = pytest.mark.server


def test_no_decision_lands_in_closed_minutes_and_a_session_closes_once(server, world, rec_in, token):
    recs = [rec_in(world, "steering_review", title=f"Empfehlung {n}") for n in range(4)]
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-14")
    services.add_ready(meeting.id, world.administrator)
    admin = token(world.administrator)
    versions = {rec.id: rec.version for rec in recs}
    rec_ids, session_id = [rec.id for rec in recs], meeting.id  # the threads touch no database objects
    db.session.rollback()

    def act(index: int):
        if index < len(rec_ids):
            rec_id = rec_ids[index]
            return call("POST", f"{server}/sessions/{session_id}/decisions", admin, {
                "recommendation_id": rec_id, "trigger": "reject", "note": "Nein.", "version": versions[rec_id]})
        return call("POST", f"{server}/sessions/{session_id}/close", admin, {})

    results = all_at_once(len(recs) + 4, act)
    closes = sorted(status for status, _ in results[len(recs):])
    assert closes == [200, 409, 409, 409], results
    assert all(status in (200, 409) for status, _ in results[:len(recs)]), results
    db.session.expire_all()  # the server's workers wrote these rows; this session still holds its own copies
    closed = db.session.get(SteeringSession, session_id)
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "session.closed")).one()
    minutes = {item["recommendation_id"]: item["state"] for item in json.loads(event.data)["items"]}
    for item in db.session.scalars(sa.select(AgendaItem).where(AgendaItem.session_id == session_id)):
        # Whatever was decided is in the minutes; nothing was decided after them.
        assert minutes[item.recommendation_id] == item.result_state
        assert item.decided_at is None or item.decided_at <= closed.closed_at
    previous = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq == event.seq - 1)).one()
    assert closed.chain_head == f"{previous.seq}:{previous.hash}"
    assert audit.verify().ok


def test_adding_to_the_agenda_while_items_are_decided_neither_deadlocks_nor_fails(server, world, rec_in, token):
    """Adding takes the session's row, then the recommendation's; deciding took them the other way
    round, and on PostgreSQL the two deadlocked (500). Both now take the session's first."""
    on_agenda = [rec_in(world, "steering_review", title=f"Auf der Tagesordnung {n}") for n in range(4)]
    waiting = [rec_in(world, "steering_review", title=f"Kommt dazu {n}") for n in range(4)]
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-14")
    for rec in on_agenda:
        services.add_to_agenda(meeting.id, world.administrator, rec.id)
    admin = token(world.administrator)
    versions = {rec.id: rec.version for rec in on_agenda}
    decided, added, session_id = [r.id for r in on_agenda], [r.id for r in waiting], meeting.id
    db.session.rollback()

    def act(index: int):
        if index % 2 == 0:
            rec_id = decided[index // 2]
            return call("POST", f"{server}/sessions/{session_id}/decisions", admin, {
                "recommendation_id": rec_id, "trigger": "reject", "note": "Nein.", "version": versions[rec_id]})
        return call("POST", f"{server}/sessions/{session_id}/agenda", admin, {"recommendation_id": added[index // 2]})

    results = all_at_once(8, act)
    assert [status for status, _ in results] == [200, 201] * 4, results
    db.session.expire_all()
    items = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.session_id == session_id)).all()
    assert sorted(item.recommendation_id for item in items) == sorted(decided + added)
    assert sorted(item.position for item in items) == list(range(1, 9))
    assert audit.verify().ok
