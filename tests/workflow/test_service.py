"""The transition service: its checks and their order, and that a refusal leaves no trace."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import audit
from app.errors import Conflict, Forbidden, InvalidTransition, NoteRequired, NotFound
from app.extensions import db
from app.models import AuditEvent, Decision, Recommendation, utcnow
from app.services import fire
from tests.conftest import audit_count


def snapshot(rec_id: int):
    db.session.expire_all()
    rec = db.session.get(Recommendation, rec_id)
    return rec.state, rec.version, rec.due_at, audit_count(), db.session.scalar(sa.select(sa.func.count()).select_from(Decision))


def test_checks_come_in_the_contract_order(world, rec_in):
    rec = rec_in(world, "steering_review")
    before = snapshot(rec.id)
    stale = rec.version - 1
    # 409 before anything else, even for a trigger that does not exist
    with pytest.raises(Conflict):
        fire(rec.id, "no_such_trigger", world.member, None, stale)
    # then 422 invalid_transition: unknown, or not possible from this state
    with pytest.raises(InvalidTransition):
        fire(rec.id, "no_such_trigger", world.member, None, rec.version)
    with pytest.raises(InvalidTransition):
        fire(rec.id, "submit", world.author, None, rec.version)
    # then 403: the moderator may not adopt, with or without a note
    with pytest.raises(Forbidden):
        fire(rec.id, "adopt", world.moderator, None, rec.version)
    # then 422 note_required
    with pytest.raises(NoteRequired):
        fire(rec.id, "adopt", world.administrator, None, rec.version)
    with pytest.raises(NoteRequired):
        fire(rec.id, "adopt", world.administrator, "  \n ", rec.version)
    assert snapshot(rec.id) == before


def test_a_caller_who_cannot_see_it_gets_not_found(world, rec_in):
    rec = rec_in(world, "draft")
    with pytest.raises(NotFound):
        fire(rec.id, "submit", world.administrator, None, rec.version)
    with pytest.raises(NotFound):
        fire(rec.id + 1000, "submit", world.author, None, 1)


def test_a_decision_is_recorded_with_its_justification(world, rec_in):
    rec = rec_in(world, "steering_review")
    rec = fire(rec.id, "adopt_in_part", world.administrator, "  Adopted, but quarterly.  ", rec.version)
    assert rec.state == "adopted_in_part"
    decision = db.session.scalars(sa.select(Decision).where(Decision.recommendation_id == rec.id)).one()
    assert (decision.outcome, decision.state, decision.note) == ("adopted_in_part", "adopted_in_part", "Adopted, but quarterly.")
    assert decision.decided_by_id == world.administrator.id
    assert rec.due_at is None
    event = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert event.action == "recommendation.transitioned"
    assert audit.event_dict(event)["data"] == {
        "trigger": "adopt_in_part", "from": "steering_review", "to": "adopted_in_part", "note": "Adopted, but quarterly."}


def test_due_date_follows_the_state_deadline(world, rec_in):
    rec = rec_in(world, "in_moderation")
    assert rec.due_at is None
    rec = fire(rec.id, "forward", world.moderator, None, rec.version)
    assert abs(rec.due_at - (utcnow() + timedelta(days=42))) < timedelta(minutes=1)
    rec = fire(rec.id, "send_back", world.administrator, "Ask the department first.", rec.version)
    assert rec.state == "in_moderation" and rec.due_at is None


def test_each_transition_bumps_the_version_and_appends_one_event(world, rec_in):
    rec = rec_in(world, "draft")
    version, events = rec.version, audit_count()
    rec = fire(rec.id, "submit", world.author, None, rec.version)
    assert rec.version == version + 1
    assert audit_count() == events + 1
    first = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert audit.event_dict(first)["data"] == {"trigger": "submit", "from": "draft", "to": "submitted"}  # no note: none
    # a note given where none is required is kept in the event, not demanded
    rec = fire(rec.id, "withdraw", world.author, "We will bring a new version.", rec.version)
    last = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert audit.event_dict(last)["data"]["note"] == "We will bring a new version."


@pytest.mark.parametrize("fail_at", ["after_state_change", "after_decision", "after_audit_event", "commit"])
def test_a_failure_at_any_step_leaves_no_trace(world, rec_in, monkeypatch, fail_at):
    """Each failure comes after a write of the transition that it must undo: the injected failure
    first checks, inside the transaction, that the write is there."""
    import app.services.recommendations as service
    rec = rec_in(world, "steering_review")
    before = snapshot(rec.id)
    written = []

    def state():
        return db.session.scalar(sa.select(Recommendation.state).where(Recommendation.id == rec.id))

    def decisions():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Decision).where(Decision.recommendation_id == rec.id))

    def failing(check):
        def boom(*args, **kwargs):
            written.append(check())
            raise RuntimeError(f"injected failure at {fail_at}")
        return boom
    if fail_at == "after_state_change":  # the state has moved; the decision is next
        monkeypatch.setattr(service, "insert", failing(lambda: state() == "adopted"))
    elif fail_at == "after_decision":  # state and decision are written; the audit event is next
        monkeypatch.setattr(audit, "record", failing(lambda: (state(), decisions()) == ("adopted", 1)))
    elif fail_at == "after_audit_event":  # everything is written but not committed
        monkeypatch.setattr(service, "identity_key", failing(
            lambda: (state(), decisions(), audit_count()) == ("adopted", 1, before[3] + 1)))
    else:  # the final commit (on SQLite a commit that ends the read transaction comes first, and passes)
        session = db.session()
        commit, fail = session.commit, failing(lambda: (decisions(), audit_count()) == (1, before[3] + 1))
        monkeypatch.setattr(session, "commit", lambda: fail() if state() == "adopted" else commit())
    with pytest.raises(RuntimeError, match="injected failure"):
        fire(rec.id, "adopt", world.administrator, "Adopted.", rec.version)
    monkeypatch.undo()
    assert written == [True]  # the failure came after the write it had to undo
    assert snapshot(rec.id) == before
    assert audit.verify().ok
    assert fire(rec.id, "adopt", world.administrator, "Adopted.", rec.version).state == "adopted"  # nothing left locked


def test_machines_are_built_once_not_per_call(world, rec_in, monkeypatch):
    import transitions
    built = []
    original = transitions.Machine.__init__
    monkeypatch.setattr(transitions.Machine, "__init__", lambda self, *a, **k: (built.append(1), original(self, *a, **k)))
    rec_in(world, "adopted")
    assert built == []


def test_the_concern_workflow_runs_on_the_same_engine(concern_world, rec_in):
    rec = rec_in(concern_world, "forwarded")
    assert rec.due_at is not None
    rec = fire(rec.id, "decline", concern_world.administrator, "Not our district.", rec.version)
    assert rec.state == "declined" and rec.decision.outcome == "declined"


def test_a_copy_loaded_before_a_transition_reads_the_new_state(world, rec_in):
    """A page loads the recommendation, then fires: what it holds must not stay at the old state."""
    rec = rec_in(world, "in_moderation")
    loaded = db.session.get(Recommendation, rec.id)
    assert (loaded.state, loaded.version) == ("in_moderation", rec.version)
    moved = fire(rec.id, "forward", world.moderator, None, rec.version)
    assert (loaded.state, loaded.version) == ("steering_review", rec.version + 1) == (moved.state, moved.version)


def test_open_statements_hold_back_only_the_transitions_that_require_them(world, rec_in, make_user):
    """(Asked for by the mutation run: the statements checks of ``fire`` could be dropped unnoticed here.)"""
    from app import services
    from app.errors import StatementsPending
    rec = rec_in(world, "steering_review")
    department = services.create_department("stadtplanung", "Stadtplanung")
    services.add_department_member(department, make_user("Planner"))
    services.request_statement(rec.id, world.administrator, "stadtplanung")
    before = snapshot(rec.id)
    with pytest.raises(StatementsPending):
        fire(rec.id, "adopt", world.administrator, "Adopted.", rec.version)
    assert snapshot(rec.id) == before
    # A transition that does not require statements goes ahead while one is open.
    moved = fire(rec.id, "send_back", world.administrator, "Ask again later.", rec.version)
    assert moved.state == "in_moderation"


def test_a_statement_requested_between_the_checks_and_the_write_holds_the_decision_back(world, rec_in, monkeypatch):
    from app.errors import StatementsPending
    import app.services.recommendations as service
    rec = rec_in(world, "steering_review")
    before = snapshot(rec.id)
    answers = iter([[], ["Stadtplanung"]])  # none at the machine's check; one by the time of the write
    monkeypatch.setattr(service.queries, "open_statement_departments", lambda _rec_id: next(answers))
    with pytest.raises(StatementsPending):
        fire(rec.id, "adopt", world.administrator, "Adopted.", rec.version)
    monkeypatch.undo()
    assert snapshot(rec.id) == before


def test_refusals_are_decided_before_the_write_transaction(world, rec_in, make_user, monkeypatch):
    """Writers queue only for the write: a refusal, open statements included, never takes the write
    lock (the machine's guards decide it; the recheck inside the transaction is for races)."""
    from app import services
    from app.errors import StatementsPending
    import app.services.recommendations as service
    rec = rec_in(world, "steering_review")
    services.create_department("stadtplanung", "Stadtplanung")
    services.request_statement(rec.id, world.administrator, "stadtplanung")

    def no_write(*args, **kwargs):
        raise AssertionError("a refused transition queued for the write lock")
    monkeypatch.setattr(service, "write_transaction", no_write)
    with pytest.raises(StatementsPending):
        fire(rec.id, "adopt", world.administrator, "Adopted.", rec.version)
    with pytest.raises(NoteRequired):
        fire(rec.id, "adopt", world.administrator, None, rec.version)


def test_the_engine_offers_no_automatic_triggers(world, rec_in):
    """``transitions`` adds a ``to_<state>`` trigger per state unless told not to: none may exist here."""
    rec = rec_in(world, "draft")
    for trigger in ("to_adopted", "to_steering_review"):
        with pytest.raises(InvalidTransition):
            fire(rec.id, trigger, world.author, "Skipping ahead.", rec.version)
