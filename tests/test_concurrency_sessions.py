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
