"""Sessions of the steering round through the services: agenda, decisions item by item, closing."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from app import audit, services
from app.errors import Conflict, Forbidden, InvalidTransition, NoteRequired, NotFound, StatementsPending, ValidationError
from app.extensions import db
from app.models import AgendaItem, AuditEvent, Decision, Recommendation, SteeringSession
from tests.conftest import audit_count


def _version(rec_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Recommendation, rec_id).version


def test_a_session_decides_item_by_item_and_its_closing_anchors_the_chain(world, rec_in, make_user):
    first = rec_in(world, "steering_review", title="Früh informieren")
    second = rec_in(world, "steering_review", title="Barrierefrei tagen")
    waiting = rec_in(world, "steering_review", title="Wartet auf Stellungnahme")
    draft = rec_in(world, "draft")
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    services.add_department_member(planning, make_user("Petra"))
    services.request_statement(waiting.id, world.administrator, "stadtplanung", "Machbar?")

    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30",
                                      place="Rathaus, Raum 101", participants="A. Admin, B. Bürger")
    # "All that are ready" leaves out what still waits for a statement, and drafts.
    assert services.add_ready(meeting.id, world.administrator) == [first.id, second.id]
    assert services.add_ready(meeting.id, world.administrator) == []
    with pytest.raises(ValidationError):
        services.add_to_agenda(meeting.id, world.administrator, draft.id)
    with pytest.raises(ValidationError):
        services.add_to_agenda(meeting.id, world.administrator, first.id)
    services.add_to_agenda(meeting.id, world.administrator, waiting.id)
    assert services.move_item(meeting.id, world.administrator, second.id, -1) == [second.id, first.id, waiting.id]

    # Decisions: the workflow's transitions, with the session recorded.
    events = audit_count()
    services.decide(meeting.id, world.administrator, second.id, "adopt_in_part",
                    "Angenommen: Teil 1. Nicht angenommen: Teil 2, weil der Haushalt fehlt.", _version(second.id))
    assert audit_count() == events + 1
    decision = db.session.scalars(db.select(Decision).where(Decision.recommendation_id == second.id)).one()
    assert decision.session_id == meeting.id and decision.outcome == "adopted_in_part"
    event = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert json.loads(event.data)["session_id"] == meeting.id
    with pytest.raises(StatementsPending):
        services.decide(meeting.id, world.administrator, waiting.id, "adopt", "Gut.", _version(waiting.id))
    with pytest.raises(ValidationError):  # decided already in this session
        services.decide(meeting.id, world.administrator, second.id, "reject", "Doch nicht.", _version(second.id))
    with pytest.raises(ValidationError):  # not on the agenda
        services.decide(meeting.id, world.administrator, draft.id, "submit", None, _version(draft.id))
    with pytest.raises(Forbidden):
        services.decide(meeting.id, world.moderator, first.id, "reject", "Nein.", _version(first.id))
    events = audit_count()
    with pytest.raises(InvalidTransition):
        services.decide(meeting.id, world.administrator, first.id, "withdraw", "x", _version(first.id))
    assert audit_count() == events
    services.decide(meeting.id, world.administrator, first.id, "reject", "Zu teuer.", _version(first.id))

    # Closing: the event holds the head just before it; twice is refused and changes nothing.
    before = audit.head()
    closed = services.close_session(meeting.id, world.administrator, notes="Nächste Sitzung im Mai.")
    assert closed.chain_head == f"{before[0]}:{before[1]}"
    event = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "session.closed" and event.seq == before[0] + 1 and event.prev_hash == before[1]
    data = json.loads(event.data)
    assert data["chain_head"] == f"{before[0]}:{before[1]}"
    assert [i["state"] for i in data["items"]] == ["adopted_in_part", "rejected", None]
    events = audit_count()
    for attempt in (lambda: services.close_session(meeting.id, world.administrator),
                    lambda: services.update_minutes(meeting.id, world.administrator, notes="Nachtrag"),
                    lambda: services.add_to_agenda(meeting.id, world.administrator, draft.id),
                    lambda: services.decide(meeting.id, world.administrator, waiting.id, "send_back", "x",
                                            _version(waiting.id))):
        with pytest.raises(Conflict):
            attempt()
    assert audit_count() == events
    assert db.session.get(SteeringSession, meeting.id).notes == "Nächste Sitzung im Mai."
    verified = audit.verify()
    assert verified.ok and verified.anchors == 1 and "(1 heads in closed minutes checked)" in str(verified)
    from app import audit_deep
    assert audit_deep.check().problem is None, audit_deep.check()


def test_verify_fails_when_closed_minutes_and_the_chain_disagree(world, rec_in):
    """The head printed in closed minutes anchors the chain: a chain rewritten with every hash
    recomputed verifies on its own, but no longer holds the event the minutes name."""
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    closed = services.close_session(meeting.id, world.administrator)
    seq, digest = closed.chain_head.split(":")
    assert audit.verify().ok
    forged = ("0" if digest[0] != "0" else "1") + digest[1:]
    db.session.execute(db.update(SteeringSession).where(SteeringSession.id == meeting.id)
                       .values(chain_head=f"{seq}:{forged}"))
    db.session.commit()
    result = audit.verify()
    assert not result.ok and result.bad_seq == int(seq)
    assert f"the minutes of session {meeting.id} record this event as {forged[:16]}" in str(result)


@pytest.mark.parametrize("recorded, shown", [
    (None, "none recorded"), ("", "''"), ("garbled", "'garbled'"), ("12:not-a-hash", "'12:not-a-hash'"),
    ("x:" + "0" * 64, "'x:" + "0" * 64 + "'"), (":" + "a" * 64, "':" + "a" * 64 + "'"),
    # A number past the database's integers crashed the check (and the worker running it).
    # (SQLite stores it whole; PostgreSQL's column of 80 characters refuses it, see below.)
    ("9" * 19 + ":" + "a" * 64, "'" + "9" * 19 + ":" + "a" * 60 + "'"),
])
def test_verify_names_a_closed_session_whose_recorded_head_is_unreadable(world, runner, recorded, shown):
    """Found by the review of issue 16: a garbled head in closed minutes made ``audit verify`` print
    "bad: event None", and a head set to NULL was skipped: the minutes no longer anchored anything."""
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    services.close_session(meeting.id, world.administrator)
    assert audit.verify().ok and audit.verify().anchors == 1
    forged = db.update(SteeringSession).where(SteeringSession.id == meeting.id).values(chain_head=recorded)
    if len(recorded or "") > 80 and db.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DataError):  # the database itself keeps such a head out
            db.session.execute(forged)
        db.session.rollback()
        return
    db.session.execute(forged)
    db.session.commit()
    result = audit.verify()
    expected = (f"bad: session {meeting.id}: the head recorded in its minutes is unreadable ({shown}; closing records "
                "SEQ:HASH), so the chain cannot be checked against them")
    assert not result.ok and str(result) == expected
    done = runner.invoke(args=["audit", "verify"])
    assert done.exit_code == 1 and done.stderr.strip() == expected and "None" not in done.output


def _reopen_by_sql(meeting_id: int, head: str | None = None) -> None:
    """What no page or command does (closing is final): the row set open again, its head nulled."""
    db.session.execute(db.update(SteeringSession).where(SteeringSession.id == meeting_id)
                       .values(status="open", chain_head=head, closed_at=None, closed_by_id=None))
    db.session.commit()


def test_verify_names_a_closed_session_reopened_in_the_database(world, runner):
    """Found by the review of issue 16: ``audit verify`` checked the heads of the sessions closed *now*;
    a session set open again with its head nulled dropped out of the check without a word, and its
    published minutes anchored nothing. The closing event in the chain says it was closed, and with
    which head: the session is named."""
    kept = services.create_session(world.process.id, world.administrator, "Erste", "2026-03-01T18:00")
    services.close_session(kept.id, world.administrator)
    meeting = services.create_session(world.process.id, world.administrator, "Zweite", "2026-04-01T18:00")
    closed = services.close_session(meeting.id, world.administrator)
    head = closed.chain_head
    closing = db.session.scalars(db.select(AuditEvent.seq).where(AuditEvent.action == "session.closed")
                                 .order_by(AuditEvent.seq.desc())).first()
    verified = audit.verify()
    assert verified.ok and verified.anchors == 2 and "(2 heads in closed minutes checked)" in str(verified)
    _reopen_by_sql(meeting.id)
    expected = (f"bad: session {meeting.id}: closed at event {closing} (its minutes record {head[:head.index(':') + 17]}…), "
                "but the table says it is open with no head recorded: a closed session is never reopened, so its row "
                "was changed behind the application's back, and its minutes would no longer be checked")
    result = audit.verify()
    assert not result.ok and str(result) == expected
    done = runner.invoke(args=["audit", "verify"])
    assert done.exit_code == 1 and done.stderr.strip() == expected
    _reopen_by_sql(meeting.id, head)  # open, but still carrying its head: named all the same
    assert not audit.verify().ok and "the table says it is open:" in str(audit.verify())


def test_a_session_reopened_and_closed_again_keeps_both_heads_checkable(world):
    """Closed, reopened behind the application's back, closed again: each closing's event holds the head
    its minutes printed, so the first minutes still check with ``--expect-head``, and ``audit verify``
    says the session was closed twice."""
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    first = services.close_session(meeting.id, world.administrator).chain_head
    _reopen_by_sql(meeting.id)
    second = services.close_session(meeting.id, world.administrator).chain_head
    assert first != second
    closings = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "session.closed")
                                  .order_by(AuditEvent.seq)).all()
    assert [json.loads(e.data)["chain_head"] for e in closings] == [first, second]
    result = audit.verify()
    assert not result.ok and str(result) == (
        f"bad: session {meeting.id}: closed 2 times (events {closings[0].seq}, {closings[1].seq}), but a closed "
        "session is never reopened: its row was changed behind the application's back; the heads of the minutes "
        "of each closing are in those events")
    for published in (first, second):  # the chain still holds both: both sets of minutes check against it
        seq, digest = published.split(":")
        assert db.session.get(AuditEvent, int(seq)).hash == digest
    # and once the row says closed with the first head again, the check names that too
    db.session.execute(db.update(SteeringSession).where(SteeringSession.id == meeting.id).values(chain_head=first))
    db.session.commit()
    assert not audit.verify().ok and "closed 2 times" in str(audit.verify())


def test_verify_names_a_closed_session_given_another_real_head(world, rec_in):
    """A head swapped for another event's real SEQ:HASH was found in the chain and passed; it must be
    the head the session's closing recorded."""
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    head = services.close_session(meeting.id, world.administrator).chain_head
    rec_in(world, "draft")
    other = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    db.session.execute(db.update(SteeringSession).where(SteeringSession.id == meeting.id)
                       .values(chain_head=f"{other.seq}:{other.hash}"))
    db.session.commit()
    result = audit.verify()
    seq = int(head.split(":")[0]) + 1
    assert not result.ok and str(result) == (
        f"bad: session {meeting.id}: the head recorded in its minutes is not the one its closing recorded at event "
        f"{seq} ({head[:head.index(':') + 17]}…): it was changed after the session closed")


def test_a_closing_whose_payload_was_erased_still_anchors_its_minutes(world, make_user):
    """Erasure may blank a closing event's payload (its notes named the person): the head it recorded is
    still known, as the event just before it, and the session is still checked."""
    person = make_user("Max Muster")
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    head = services.close_session(meeting.id, world.administrator, notes="Protokoll: Max Muster").chain_head
    services.erase_user(person.id, world.superuser)
    db.session.expire_all()
    closing = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "session.closed")).one()
    assert closing.data is None
    verified = audit.verify()
    assert verified.ok and verified.anchors == 1, str(verified)
    _reopen_by_sql(meeting.id)
    result = audit.verify()
    assert not result.ok and f"closed at event {closing.seq} (its minutes record {head[:head.index(':') + 17]}…)" \
        in str(result)


def test_the_administration_page_names_the_session_whose_head_is_unreadable(world, people, browser, app):
    from app.services import chain_checks
    people(world)
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    services.close_session(meeting.id, world.administrator)
    db.session.execute(db.update(SteeringSession).where(SteeringSession.id == meeting.id).values(chain_head=None))
    db.session.commit()
    chain_checks.request_check(world.superuser)
    assert chain_checks.run_waiting().ok is False
    page = browser(world.superuser).get("/admin/audit/verify")
    assert f"The check failed: session {meeting.id}: the head recorded in its minutes is unreadable" in page.text
    assert "event None" not in page.text


def test_only_the_process_administrators_prepare_sessions(world, rec_in):
    rec = rec_in(world, "steering_review")
    events = audit_count()
    for actor in (world.member, world.moderator, world.author, world.outsider, world.superuser):
        with pytest.raises(Forbidden):
            services.create_session(world.process.id, actor, "Sitzung", "2026-03-14")
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-14")
    for actor in (world.member, world.moderator, world.superuser):
        with pytest.raises(Forbidden):
            services.add_to_agenda(meeting.id, actor, rec.id)
        with pytest.raises(Forbidden):
            services.close_session(meeting.id, actor)
    with pytest.raises(NotFound):
        services.close_session(meeting.id + 100, world.administrator)
    assert audit_count() == events + 1


@pytest.mark.parametrize("held_at", ["", "14.03.2026", "2026-13-01", "1900-01-01", None, 5])
def test_a_session_needs_a_usable_date(world, held_at):
    events = audit_count()
    with pytest.raises(ValidationError):
        services.create_session(world.process.id, world.administrator, "Sitzung", held_at)
    assert audit_count() == events and db.session.scalar(db.select(db.func.count()).select_from(SteeringSession)) == 0


def test_an_item_is_removed_only_while_undecided(world, rec_in):
    rec = rec_in(world, "steering_review")
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-14")
    services.add_to_agenda(meeting.id, world.administrator, rec.id)
    services.remove_from_agenda(meeting.id, world.administrator, rec.id)
    assert db.session.scalars(db.select(AgendaItem)).all() == []
    services.add_to_agenda(meeting.id, world.administrator, rec.id)
    services.decide(meeting.id, world.administrator, rec.id, "adopt", "Ja.", _version(rec.id))
    with pytest.raises(ValidationError):
        services.remove_from_agenda(meeting.id, world.administrator, rec.id)


def test_a_justification_with_the_templates_gaps_left_open_is_refused(world, rec_in):
    """The answer template is a start, not an answer: a line of it with its "…" gaps still open is refused
    with 422 and nothing changes; filled in, the same decision goes through."""
    rec = rec_in(world, "steering_review")
    services.set_answer_template(world.process.id, world.administrator, "rejected", "Abgelehnt, weil …")
    events = audit_count()
    for note in ("The steering round adopts the recommendation because …\n\nImplementation: responsible is …, first report by …",
                 "Die Steuerungsrunde nimmt die Empfehlung an, weil der Bedarf belegt ist.\n\nUmsetzung: zuständig ist …, erster Bericht bis …"):
        with pytest.raises(NoteRequired, match="still holds the answer template's gaps"):
            services.fire(rec.id, "adopt", world.administrator, note, _version(rec.id))
    with pytest.raises(NoteRequired, match="adopts the recommendation because …"):  # another decision's template
        services.fire(rec.id, "reject", world.administrator,
                      "The steering round adopts the recommendation because …", _version(rec.id))
    with pytest.raises(NoteRequired, match="Abgelehnt, weil …"):  # the process's own template too
        services.fire(rec.id, "reject", world.administrator, "Abgelehnt, weil …", _version(rec.id))
    assert audit_count() == events and db.session.get(Recommendation, rec.id).state == "steering_review"
    services.fire(rec.id, "adopt", world.administrator,
                  "Die Steuerungsrunde nimmt die Empfehlung an, weil der Bedarf belegt ist … und bezahlbar.\n\n"
                  "Umsetzung: zuständig ist das Bezirksamt, erster Bericht bis Juni.", _version(rec.id))
    assert db.session.get(Recommendation, rec.id).state == "adopted"


def test_all_that_are_ready_leaves_out_what_waits_on_another_open_agenda(world, rec_in):
    """One click adds all that are ready; a recommendation already waiting on another open session's
    agenda is not put on a second one (it may still be added by hand)."""
    first, second = rec_in(world, "steering_review"), rec_in(world, "steering_review")
    may = services.create_session(world.process.id, world.administrator, "Mai", "2026-05-14")
    services.add_to_agenda(may.id, world.administrator, first.id)
    june = services.create_session(world.process.id, world.administrator, "Juni", "2026-06-14")
    assert services.add_ready(june.id, world.administrator) == [second.id]
    services.add_to_agenda(june.id, world.administrator, first.id)  # by hand it is possible


# -- audit verify --deep: closed minutes against their session.closed event ------------------
# Found by review 2 of issue 16 (finding 4): the minutes of a closed session could be changed by SQL
# (their notes, attendance, agenda and each item's justification) without any check noticing.


def _forge(statement: str, **params) -> None:
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _deep() -> str | None:
    from app import audit_deep
    db.session.rollback()
    return audit_deep.check().problem


@pytest.fixture
def closed_minutes(world, rec_in):
    first = rec_in(world, "steering_review", title="Früh informieren")
    second = rec_in(world, "steering_review", title="Barrierefrei tagen")
    meeting = services.create_session(world.process.id, world.administrator, "3. Sitzung", "2026-03-14T18:30",
                                      participants="A. Admin, B. Bürger")
    services.add_to_agenda(meeting.id, world.administrator, first.id)
    services.add_to_agenda(meeting.id, world.administrator, second.id)
    services.decide(meeting.id, world.administrator, first.id, "adopt", "Angenommen: gute Idee.", _version(first.id))
    services.close_session(meeting.id, world.administrator, notes="Nächste Sitzung im Mai.")
    return {"s": meeting.id, "first": first.id, "second": second.id, "other": world.moderator.id}


@pytest.mark.parametrize("forgery, message", [
    ("UPDATE steering_sessions SET notes = 'Forged notes' WHERE id = :s",
     "session {s}: notes 'Forged notes' is not what the events say ('Nächste Sitzung im Mai.')"),
    ("UPDATE steering_sessions SET participants = 'Nur A. Admin' WHERE id = :s",
     "session {s}: participants 'Nur A. Admin' is not what the events say ('A. Admin, B. Bürger')"),
    ("UPDATE steering_sessions SET minutes_json = replace(minutes_json, 'gute Idee', 'schlechte Idee') WHERE id = :s",
     "session {s}, recommendation {first}: minutes note 'Angenommen: schlechte Idee.' is not what the events say "
     "('Angenommen: gute Idee.')"),
    ("UPDATE steering_sessions SET minutes_json = replace(minutes_json, '\"result_state\": \"adopted\"', "
     "'\"result_state\": \"rejected\"') WHERE id = :s",
     "session {s}: minutes [({first}, 'rejected'), ({second}, None)] are not what the events say "
     "([({first}, 'adopted'), ({second}, None)])"),
    ("UPDATE agenda_items SET note = 'Forged.' WHERE session_id = :s AND recommendation_id = :first",
     "session {s}, recommendation {first}: agenda note 'Forged.' is not what the events say ('Angenommen: gute Idee.')"),
    ("UPDATE agenda_items SET decided_by_id = :other WHERE session_id = :s AND recommendation_id = :first",
     "session {s}, recommendation {first}: agenda decided_by {other} is not what the events say"),
    ("DELETE FROM agenda_items WHERE session_id = :s AND recommendation_id = :second",
     "session {s}: agenda [({first}, 'adopt', 'adopted')] is not what the events say "
     "([({first}, 'adopt', 'adopted'), ({second}, None, None)])"),
])
def test_deep_finds_closed_minutes_changed_behind_the_events_back(closed_minutes, forgery, message):
    assert _deep() is None
    _forge(forgery, **closed_minutes)
    assert audit.verify().ok  # the chain itself, and the head in the minutes, are untouched
    problem = _deep()
    assert problem is not None and problem.startswith(message.format(**closed_minutes)), problem


def test_deep_takes_closed_minutes_redacted_by_an_erasure_as_unknown(world, rec_in, make_user):
    """A justification naming a person is redacted in the agenda and the minutes by their erasure (and
    the transition's payload erased): those texts are unknown now, the agenda itself is still checked."""
    person = make_user("Wilhelmine Quast")
    first = rec_in(world, "steering_review")
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-14T18:30")
    services.add_to_agenda(meeting.id, world.administrator, first.id)
    services.decide(meeting.id, world.administrator, first.id, "adopt", "Rücksprache mit Wilhelmine Quast.",
                    _version(first.id))
    services.close_session(meeting.id, world.administrator, notes="Gut.")
    services.erase_user(person.id)
    db.session.expire_all()
    assert "Erased person" in db.session.get(SteeringSession, meeting.id).minutes_json
    assert _deep() is None
    _forge("UPDATE agenda_items SET note = 'Changed after erasure' WHERE session_id = :s", s=meeting.id)
    assert _deep() is None  # unknown since the erasure
    _forge("UPDATE steering_sessions SET notes = 'Forged' WHERE id = :s", s=meeting.id)
    assert _deep() is None  # redacted rows' texts: unknown (the erasure redacted this session)
    _forge("UPDATE agenda_items SET result_state = 'rejected' WHERE session_id = :s", s=meeting.id)
    assert _deep() == (f"session {meeting.id}: agenda [({first.id}, 'adopt', 'rejected')] is not what the events say "
                       f"([({first.id}, 'adopt', 'adopted')])")
