"""Audit format v2 (docs/auditing.md): erasure-ready triggers, what each reader sees, the public
export and a process's download, a v1 chain continued in v2, and ``audit verify --deep``."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app import audit, services
from app.extensions import db
from app.models import AuditEvent
from tests.test_audit import RECIPE, tamper
from tests.web.browser import text_of


@pytest.fixture
def thread(world, rec_in):
    """A public recommendation with a public comment, an internal note and a hidden comment."""
    rec = rec_in(world, "steering_review")
    public = services.create_comment(rec.id, world.member, "Where will it be?")
    internal = services.create_comment(rec.id, world.moderator, "Staff needed.", visibility="internal")
    rude = services.create_comment(rec.id, world.member, "Rubbish!!!")
    services.hide_comment(rude.id, world.moderator, "Stay civil.")
    draft = rec_in(world, "draft", title="Still a draft")
    return rec, public, internal, rude, draft


def cli(runner, *args):
    return runner.invoke(args=list(args))


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def recipe(text: str, *options: str):
    return subprocess.run([sys.executable, str(RECIPE), *options], input=text, capture_output=True, text=True)


def seq_of(action: str, subject_id: int | None = None) -> int:
    query = "SELECT min(seq) FROM audit_events WHERE action = :a" + (" AND subject_id = :s" if subject_id else "")
    return db.session.execute(sa.text(query), {"a": action, "s": subject_id}).scalar()


def update(statement: str, **params) -> None:
    """A statement of its own, as someone with database access runs it; the test then reads afresh."""
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


# -- the triggers: append-only, with erasure of a v2 payload as the one exception ----------


def test_blanking_a_v2_payload_is_the_only_update_allowed(thread, runner):
    seq = seq_of("comment.created", thread[1].id)
    for statement in ("UPDATE audit_events SET data = NULL, salt = NULL, action = 'x' WHERE seq = :seq",
                      "UPDATE audit_events SET data = NULL, salt = NULL, data_digest = NULL WHERE seq = :seq",
                      "UPDATE audit_events SET data = NULL, salt = NULL, hash = :fake WHERE seq = :seq",
                      "UPDATE audit_events SET data = NULL, salt = NULL, v = 1 WHERE seq = :seq",
                      "UPDATE audit_events SET data = NULL WHERE seq = :seq",
                      "UPDATE audit_events SET salt = NULL WHERE seq = :seq",
                      "UPDATE audit_events SET data = '{}', salt = NULL WHERE seq = :seq",
                      "DELETE FROM audit_events WHERE seq = :seq"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            update(statement, seq=seq, fake="f" * 64)
    update("UPDATE audit_events SET data = NULL, salt = NULL WHERE seq = :seq", seq=seq)
    row = db.session.execute(sa.text("SELECT data, salt, data_digest, hash FROM audit_events WHERE seq = :s"), {"s": seq}).one()
    assert row.data is None and row.salt is None and len(row.data_digest) == 64
    # the chain still verifies; the erased payload is counted, not checked
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 0
    head = audit.head()[1]
    assert result.stdout.strip() == f"ok: {audit.head()[0]} events, head {head} (1 erased payloads not checked)"
    erased = next(e for e in lines(cli(runner, "audit", "export").stdout) if e["seq"] == seq)
    assert (erased["data"], erased["salt"], erased["erased"]) == (None, None, True)
    assert recipe(cli(runner, "audit", "export").stdout).stdout == result.stdout


def test_a_v1_payload_cannot_be_blanked(world, runner):
    insert_v1_chain(3)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        update("UPDATE audit_events SET data = NULL, salt = NULL WHERE v = 1")
    assert cli(runner, "audit", "verify").exit_code == 0


def test_half_an_erasure_is_found(thread, runner):
    seq = seq_of("comment.created", thread[1].id)
    tamper("UPDATE audit_events SET salt = NULL WHERE seq = :seq", seq=seq)
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"bad: event {seq}: data and salt are either both stored or both erased"


# -- a v1 chain continues in v2 --------------------------------------------------------


def insert_v1_chain(count: int) -> None:
    """What the previous release wrote: v1 events hashed over their data, inserted as they were."""
    prev_seq, prev = audit.head()
    rows = []
    for seq in range(prev_seq + 1, prev_seq + count + 1):
        at, data = f"2026-11-0{seq % 9 + 1}T10:00:00.000000Z", {"email": f"old{seq}@example.org", "note": "ä “x”"}
        digest = audit.compute_hash(prev, seq, at, None, "user.created", "user", seq, data)
        rows.append({"seq": seq, "at": at, "actor_id": None, "action": "user.created", "subject_type": "user",
                     "subject_id": seq, "data": audit.canonical_data(data), "prev_hash": prev, "hash": digest})
        prev = digest
    with db.engine.begin() as conn:  # no v: the column's default says 1, as for the rows the upgrade found
        conn.execute(sa.text("INSERT INTO audit_events (seq, at, actor_id, action, subject_type, subject_id, data, "
                             "prev_hash, hash) VALUES (:seq, :at, :actor_id, :action, :subject_type, :subject_id, "
                             ":data, :prev_hash, :hash)"), rows)


def test_a_v1_chain_keeps_verifying_and_continues_in_v2(app, make_user, runner):
    insert_v1_chain(4)
    assert cli(runner, "audit", "verify").exit_code == 0
    make_user("New Person")
    events = lines(cli(runner, "audit", "export").stdout)
    assert [e["v"] for e in events] == [1, 1, 1, 1, 2]
    assert events[0]["salt"] is None and events[0]["data_digest"] is None
    assert events[4]["prev_hash"] == events[3]["hash"]
    result = cli(runner, "audit", "verify")
    assert result.exit_code == 0 and result.stdout.startswith(f"ok: 5 events, head {events[4]['hash']}")
    assert recipe(cli(runner, "audit", "export").stdout).stdout == result.stdout
    # an anonymous visitor may not read about people: the v1 events are withheld, the v2 one is checkable
    public = cli(runner, "audit", "export", "--public").stdout
    assert [e.get("withheld") for e in lines(public)] == [True, True, True, True, None]
    assert "old1@example.org" not in public and "New Person" not in public
    assert recipe(public).stdout == result.stdout
    tampered = lines(public)
    tampered[2]["prev_hash"] = "1" * 64
    assert recipe("\n".join(json.dumps(e) for e in tampered)).stderr.strip() == "bad: event 3: prev_hash does not link"


def test_the_upgrade_from_0006_keeps_the_chain_and_the_triggers(tmp_path):
    """Migrate to 0006, write v1 events as that release did, upgrade: the chain verifies, goes on in
    v2, the triggers still refuse changes; and the downgrade takes the schema back."""
    from flask_migrate import downgrade, upgrade
    from app import create_app
    from tests.conftest import BASE_CONFIG
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}",
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    with app.app_context():
        upgrade(revision="0006")
        insert_v1_chain(3)
        db.session.remove()  # the schema changes under it
        upgrade()
        assert audit.verify().ok
        services.create_user("after@example.org", "After Upgrade")
        result = audit.verify()
        assert result.ok and result.count == 4
        versions = db.session.execute(sa.text("SELECT v FROM audit_events ORDER BY seq")).scalars().all()
        assert versions == [1, 1, 1, 2]
        for statement in ("UPDATE audit_events SET action = 'x' WHERE seq = 1", "DELETE FROM audit_events WHERE seq = 4"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                update(statement)
        db.session.remove()
        downgrade(revision="0006")
        columns = [c["name"] for c in sa.inspect(db.engine).get_columns("audit_events")]
        assert "v" not in columns and "salt" not in columns
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            update("DELETE FROM audit_events WHERE seq = 1")
        db.session.remove()
        db.engine.dispose()


# -- what each reader sees --------------------------------------------------------------


def test_the_public_export_withholds_what_a_visitor_may_not_read_and_still_verifies(thread, runner):
    rec, public, internal, rude, draft = thread
    full = cli(runner, "audit", "export").stdout
    exported = cli(runner, "audit", "export", "--public")
    assert exported.exit_code == 0
    events = {(e["subject_type"], e["subject_id"], e["action"]): e for e in lines(exported.stdout)}
    assert events[("comment", public.id, "comment.created")]["data"]["body"] == "Where will it be?"
    for key in (("comment", internal.id, "comment.created"), ("comment", rude.id, "comment.created"),
                ("recommendation", draft.id, "recommendation.created"), ("user", rec.authors[0].id, "user.created")):
        assert events[key]["data"] is None and events[key]["salt"] is None and len(events[key]["data_digest"]) == 64
    assert events[("comment", rude.id, "comment.hidden")]["data"] == {"reason": "Stay civil."}
    assert events[("process", rec.process_id, "process.created")]["data"]["slug"] == "guidelines"
    for secret in ("Staff needed.", "Rubbish!!!", "Still a draft", "@example.org"):
        assert secret not in exported.stdout and secret in full
    verified = cli(runner, "audit", "verify").stdout
    assert recipe(exported.stdout).stdout == verified
    csv_export = cli(runner, "audit", "export", "--public", "--format", "csv").stdout
    assert "Staff needed." not in csv_export and "Where will it be?" in csv_export


def test_the_public_export_withholds_the_process_administrators_answer_templates(world, runner):
    """Found by the review of issue 16: an answer template is read and edited on a page of the
    process's administrators only, but its event showed its text to every reader of the public export."""
    from app.disclosure import Reader
    assert services.set_answer_template(world.process.id, world.administrator, "adopted", "Intern: Budget 48213 EUR.")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "process.answer_template_set")).one()
    exported = cli(runner, "audit", "export", "--public")
    assert exported.exit_code == 0
    shown = next(e for e in lines(exported.stdout) if e["action"] == "process.answer_template_set")
    assert (shown["data"], shown["salt"], shown["subject_id"]) == (None, None, world.process.id)
    assert "48213" not in exported.stdout and "48213" in cli(runner, "audit", "export").stdout
    assert recipe(exported.stdout).stdout == cli(runner, "audit", "verify").stdout  # still verifiable
    # the process's administrators read it; nobody else, a superuser without that role neither
    assert [s.data for s in (Reader(u).judge([event])[0] for u in (world.administrator, world.moderator,
                                                                   world.member, world.superuser, None))] == \
        [True, False, False, False, False]
    # what other process events say stays public
    assert next(e for e in lines(exported.stdout) if e["action"] == "process.created")["data"]["slug"] == "guidelines"
    # not public, so an erasure of the administrator who wrote it erases it from the trail
    services.erase_user(world.administrator.id)
    db.session.expire_all()
    assert db.session.get(AuditEvent, event.seq).data is None and audit.verify().ok


def test_a_process_offers_its_public_audit_download(thread, client, browser, world):
    rec, public, internal, rude, draft = thread
    page = browser().get(f"/processes/{world.process.slug}")
    assert f'href="/processes/{world.process.slug}/audit.jsonl"' in page.text
    assert "Download the audit events of this process" in text_of(page.text)
    response = client.get(f"/processes/{world.process.slug}/audit.jsonl", buffered=True)
    assert response.status_code == 200 and response.mimetype == "application/jsonl"
    events = lines(response.get_data(as_text=True))
    subjects = {(e["subject_type"], e["subject_id"]) for e in events}
    assert ("recommendation", rec.id) in subjects and ("comment", public.id) in subjects
    assert ("comment", internal.id) not in subjects and ("recommendation", draft.id) not in subjects
    assert all(e["subject_type"] in ("recommendation", "comment") for e in events)
    hidden = next(e for e in events if e["subject_id"] == rude.id and e["action"] == "comment.created")
    assert hidden["data"] is None and hidden["salt"] is None
    checked = recipe(response.get_data(as_text=True), "--selection")
    assert checked.returncode == 0 and checked.stdout.startswith(f"ok: {len(events)} events")
    assert recipe(response.get_data(as_text=True)).returncode == 1  # not the whole chain: it has gaps
    assert client.get("/processes/nope/audit.jsonl").status_code == 404
    browser().get(f"/processes/{world.process.slug}?lang=de")


def test_the_admin_audit_page_withholds_what_the_superuser_may_not_read(thread, people, browser, world):
    rec, public, internal, rude, draft = thread
    people(world)
    page = browser(world.superuser).get("/admin/audit")
    shown = text_of(page.text)
    assert "Where will it be?" in shown and "withheld" in shown
    assert "Staff needed." not in shown and "Rubbish!!!" not in shown
    assert world.author.email in shown  # people are the superuser's to administer


# -- verify --deep ----------------------------------------------------------------------


def test_a_demo_database_passes_the_deep_check(runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    result = cli(runner, "audit", "verify", "--deep")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.strip().splitlines()
    assert first.startswith("ok: ") and second.startswith("deep: ") and second.endswith("agree with the events")


@pytest.mark.parametrize("forgery, message", [
    ("UPDATE recommendations SET state = 'adopted' WHERE id = :rec",
     "recommendation {rec}: state 'adopted' is not what the events say ('steering_review')"),
    ("UPDATE recommendations SET title = 'Forged title' WHERE id = :rec",
     "recommendation {rec}: title 'Forged title' is not what the events say ('Announce participation early')"),
    ("INSERT INTO decisions (recommendation_id, outcome, state, note, decided_by_id, decided_at) "
     "VALUES (:rec, 'adopted', 'adopted', NULL, :user, '2026-01-01 00:00:00')",
     "recommendation {rec}: decision 'adopted' is not what the events say (no decision)"),
    ("INSERT INTO memberships (id, user_id, process_id, role, created_at) "
     "VALUES (999, :user, :process, 'moderator', '2026-01-01 00:00:00')",
     "membership 999: no event records it"),
    ("UPDATE memberships SET role = 'administrator' WHERE id = :membership",
     "membership {membership}: role 'administrator' is not what the events say ('member')"),
    ("UPDATE comments SET body = 'Forged' WHERE id = :comment",
     "comment {comment}: body 'Forged' is not what the events say ('Where will it be?')"),
    ("UPDATE comments SET hidden = false WHERE id = :rude",
     "comment {rude}: hidden False is not what the events say (True)"),
    # Found by review 2 of issue 16 (finding 5): what the events record of a comment, an account.
    ("UPDATE comments SET hidden_reason = 'Forged reason' WHERE id = :rude",
     "comment {rude}: hidden_reason 'Forged reason' is not what the events say ('Stay civil.')"),
    ("UPDATE comments SET author_id = :moderator WHERE id = :comment",
     "comment {comment}: author_id {moderator} is not what the events say ({user})"),
    ("UPDATE comments SET hidden_by_id = :user WHERE id = :rude",
     "comment {rude}: hidden_by_id {user} is not what the events say ({moderator})"),
    ("UPDATE comments SET parent_id = :comment WHERE id = :rude",
     "comment {rude}: parent_id {comment} is not what the events say (None)"),
    ("UPDATE users SET is_superuser = true WHERE id = :user",
     "user {user}: is_superuser True is not what the events say (False)"),
    ("UPDATE users SET active = false WHERE id = :user",
     "user {user}: active False is not what the events say (True)"),
])
def test_deep_finds_a_row_no_event_explains(thread, runner, world, forgery, message):
    rec, public, internal, rude, draft = thread
    membership = db.session.execute(sa.text("SELECT min(id) FROM memberships WHERE user_id = :u"),
                                    {"u": world.member.id}).scalar()
    ids = {"rec": rec.id, "user": world.member.id, "process": world.process.id, "membership": membership,
           "comment": public.id, "rude": rude.id, "moderator": world.moderator.id}
    assert cli(runner, "audit", "verify", "--deep").exit_code == 0
    update(forgery, **ids)
    plain = cli(runner, "audit", "verify")
    assert plain.exit_code == 0 and plain.stdout.startswith("ok: ")
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 1
    assert deep.stderr.strip() == "bad: " + message.format(**ids)


@pytest.fixture
def answers(world, rec_in, make_user):
    """A department that answered and one that declined, with their members."""
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    petra = make_user("Petra Planung")
    services.add_department_member(planning, petra)
    rec = rec_in(world, "steering_review")
    answered = services.request_statement(rec.id, world.administrator, "stadtplanung", "Machbar?")
    services.answer_statement(answered.id, petra, "Machbar bis 2027.")
    social = services.create_department("sozialamt", "Sozialamt")
    declined = services.request_statement(rec.id, world.administrator, "sozialamt", None)
    services.add_department_member(social, petra)
    services.decline_statement(declined.id, petra, "Nicht zuständig.")
    member = db.session.execute(sa.text("SELECT min(id) FROM department_members")).scalar()
    return {"s": answered.id, "d": declined.id, "dep": planning.id, "user": world.member.id, "m": member, "petra": petra.id}


@pytest.mark.parametrize("forgery, message", [
    ("UPDATE statements SET body = 'Nicht machbar.' WHERE id = :s",
     "statement {s}: body 'Nicht machbar.' is not what the events say ('Machbar bis 2027.')"),
    ("UPDATE statements SET status = 'requested' WHERE id = :d",
     "statement {d}: status 'requested' is not what the events say ('declined')"),
    ("UPDATE statements SET answered_by_id = :user WHERE id = :s",
     "statement {s}: answered_by_id {user} is not what the events say ({petra})"),
    ("UPDATE statements SET visibility = 'internal' WHERE id = :s",
     "statement {s}: visibility 'internal' is not what the events say ('public')"),
    ("INSERT INTO department_members (id, department_id, user_id, created_at) "
     "VALUES (999, :dep, :user, '2026-01-01 00:00:00')", "department_member 999: no event records it"),
    ("UPDATE department_members SET user_id = :user WHERE id = :m",
     "department_member {m}: user_id {user} is not what the events say ({petra})"),
])
def test_deep_checks_statements_and_department_members(answers, runner, forgery, message):
    """A department's answer is the administration's official word: a changed answer, status or
    visibility, a member slipped into a department, are named like any other row."""
    result = cli(runner, "audit", "verify", "--deep")
    assert result.exit_code == 0 and "2 department_members, 2 statements agree" in result.stdout, result.output
    update(forgery, **answers)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 1 and deep.stderr.strip() == "bad: " + message.format(**answers)


def test_deep_takes_a_request_routed_by_a_category_from_its_recommendations_event(concern_world, runner, make_user):
    from app.services import categories
    from app.workflow import engine
    from tests.conftest import path_to
    light = services.create_department("licht", "Straßenbeleuchtung")
    services.add_department_member(light, make_user("Lena Licht"))
    categories.create_category(concern_world.process, "licht", "Licht und Laternen", "licht", None)
    rec = services.create_recommendation(concern_world.process.id, concern_world.author, "Lampe", "Dunkel.", category="licht")
    for _source, transition in path_to(engine().get(concern_world.process.workflow_id), "forwarded"):
        rec = services.fire(rec.id, transition.trigger, concern_world.by_role(transition.roles[0]), "Weiter.", rec.version)
    asked = db.session.execute(sa.text("SELECT id FROM statements WHERE recommendation_id = :r"), {"r": rec.id}).scalar()
    assert asked is not None and db.session.execute(
        sa.text("SELECT count(*) FROM audit_events WHERE subject_type = 'statement'")).scalar() == 0
    result = cli(runner, "audit", "verify", "--deep")
    assert result.exit_code == 0 and "1 statements agree" in result.stdout, result.output
    update("UPDATE statements SET status = 'answered', body = 'Erledigt.' WHERE id = :s", s=asked)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.stderr.strip() == f"bad: statement {asked}: status 'answered' is not what the events say ('requested')"


def test_deep_finds_a_decision_changed_and_a_row_gone(world, rec_in, runner):
    rec = rec_in(world, "adopted")
    assert cli(runner, "audit", "verify", "--deep").exit_code == 0
    update("UPDATE decisions SET note = 'Rewritten' WHERE recommendation_id = :r", r=rec.id)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.stderr.strip() == (f"bad: recommendation {rec.id}: decision note 'Rewritten' is not what the events "
                                   "say ('Because it is right.')")
    update("UPDATE decisions SET note = 'Because it is right.' WHERE recommendation_id = :r", r=rec.id)
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    update("UPDATE decisions SET session_id = :s WHERE recommendation_id = :r", s=meeting.id, r=rec.id)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.stderr.strip() == (f"bad: recommendation {rec.id}: decision session {meeting.id} is not what the "
                                   "events say (None)")
    update("DELETE FROM decisions WHERE recommendation_id = :r", r=rec.id)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.stderr.strip() == (f"bad: recommendation {rec.id}: it has no decision, but the events say it was "
                                   "decided ('adopted')")


def test_deep_skips_what_an_erased_payload_would_have_said(world, rec_in, runner):
    from app.models import Recommendation
    rec = rec_in(world, "submitted")  # not public: erasing its author erases its creation and their note
    services.erase_user(world.author.id)
    services.fire(rec.id, "start_moderation", world.moderator, None, db.session.get(Recommendation, rec.id).version)
    update("UPDATE recommendations SET title = 'Changed after erasure' WHERE id = :r", r=rec.id)
    result = cli(runner, "audit", "verify", "--deep")
    assert result.exit_code == 0, result.output
    update("UPDATE recommendations SET state = 'adopted' WHERE id = :r", r=rec.id)  # the state is still known
    assert cli(runner, "audit", "verify", "--deep").exit_code == 1


def test_deep_finds_a_payload_blanked_behind_the_erasures_back(world, rec_in, runner):
    """The triggers let anyone with database access blank a v2 payload; only an erasure lists it."""
    rec = rec_in(world, "steering_review")
    seq = seq_of("recommendation.created", rec.id)
    update("UPDATE audit_events SET data = NULL, salt = NULL WHERE seq = :seq", seq=seq)
    update("UPDATE recommendations SET title = 'Changed after blanking' WHERE id = :r", r=rec.id)
    assert cli(runner, "audit", "verify").exit_code == 0  # the chain itself is whole
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 1
    assert deep.stderr.strip() == (f"bad: event {seq}: its payload was erased, but no user.erased event after it "
                                   "lists it")


def _append_erasure(subject_id: int, erased: list[int], redacted: dict) -> int:
    """A ``user.erased`` event appended as anyone with database access can: the chain only grows."""
    from types import SimpleNamespace

    from app.transactions import write_transaction
    with write_transaction():
        event = audit.record("user.erased", SimpleNamespace(audit_subject_type="user", id=subject_id), None,
                             {"erased_events": erased, "pseudonym": f"Erased person {subject_id}", "redacted": redacted})
    return event.seq


@pytest.mark.parametrize("who", ["nobody", "member", "erased"])
def test_deep_takes_no_forged_erasure_as_the_reason_for_a_blanked_payload(world, rec_in, runner, who):
    """Found by review 2 of issue 16 (finding 1): blank the decision's payload, change the decision,
    and append a ``user.erased`` listing it, for an account that does not exist (999), for a living
    member, or a second one for a person erased already: only an erased account's one event counts."""
    rec = rec_in(world, "rejected")
    if who == "erased":
        services.erase_user(world.outsider.id)
    assert cli(runner, "audit", "verify", "--deep").exit_code == 0
    seq = db.session.execute(sa.text("SELECT max(seq) FROM audit_events WHERE subject_type = 'recommendation' "
                                     "AND subject_id = :r AND action = 'recommendation.transitioned'"),
                             {"r": rec.id}).scalar()
    subject = {"nobody": 999, "member": world.member.id, "erased": world.outsider.id}[who]
    update("UPDATE audit_events SET data = NULL, salt = NULL WHERE seq = :seq", seq=seq)
    update("UPDATE decisions SET outcome = 'adopted', state = 'adopted', note = 'Forged.' WHERE recommendation_id = :r",
           r=rec.id)
    update("UPDATE recommendations SET state = 'adopted' WHERE id = :r", r=rec.id)
    forged = _append_erasure(subject, [seq], {"recommendation": [rec.id]})
    assert cli(runner, "audit", "verify").exit_code == 0  # the chain itself is whole: the event was appended
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 1
    first = db.session.execute(sa.text("SELECT min(seq) FROM audit_events WHERE action = 'user.erased'")).scalar()
    assert deep.stderr.strip() == "bad: " + {
        "nobody": f"event {forged}: user.erased is about user 999, but there is no such account",
        "member": f"event {forged}: user.erased for user {subject}, but that account is not erased",
        "erased": f"event {forged}: user.erased for user {subject}, who was erased already (event {first})",
    }[who]


def test_deep_names_an_account_marked_erased_without_its_event(world, runner):
    assert cli(runner, "audit", "verify", "--deep").exit_code == 0
    update("UPDATE users SET erased_at = '2026-01-01 00:00:00' WHERE id = :u", u=world.member.id)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 1 and deep.stderr.strip() == (
        f"bad: user {world.member.id}: the account is marked erased, but no user.erased event records it")


def _recorded_actions() -> set[str]:
    """Every action the application's code appends (``audit.record("…", …)``, also ``"a" if … else "b"``)."""
    import ast
    from pathlib import Path
    found, unknown = set(), []
    for path in (Path(__file__).resolve().parents[1] / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args
                    and getattr(node.func, "attr", getattr(node.func, "id", None)) == "record"):
                continue
            first = node.args[0]
            values = [first] if isinstance(first, ast.Constant) else \
                [first.body, first.orelse] if isinstance(first, ast.IfExp) else []
            if not all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in values) or not values:
                unknown.append(f"{path.name}:{node.lineno}")
            found |= {v.value for v in values if isinstance(v, ast.Constant)}
    assert unknown == [], f"an action not written as a literal: {unknown}"
    return found


def test_docs_name_every_audit_action_with_its_data_and_its_personal_data():
    """Found by the review of issue 16: several actions were missing from docs/auditing.md, which must
    say what each payload holds and what of it counts as personal data for an erasure."""
    from pathlib import Path

    from app.timeline import ACTION_NAMES
    actions = _recorded_actions()
    assert len(actions) > 40 and "session.closed" in actions and "user.password_reset" in actions
    doc = (Path(__file__).resolve().parents[1] / "docs" / "auditing.md").read_text(encoding="utf-8")
    data = doc[doc.index("| action | data |"):doc.index("## Erasure")]
    personal = doc[doc.index("| action | personal data in the payload | erased when |"):doc.index("What stays, and why")]
    assert sorted(a for a in actions if f"`{a}`" not in data) == []
    assert sorted(a for a in actions if f"`{a}`" not in personal) == []
    assert sorted(a for a in actions if a not in ACTION_NAMES) == []  # the audit log page's words
