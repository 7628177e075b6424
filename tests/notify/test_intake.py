"""Public intake (docs/workflows.md, "Public intake"): a resident sends a concern without an account,
confirms it through the link a real SMTP server received, follows it by its private link, and is
mailed each step; spam defences, forged and reused links, expiry and retention."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import AuditEvent, Mail, Process, Recommendation, Statement, Submission, Throttle, User, utcnow
from app.services import categories, intake
from app.transactions import write_transaction
from app.workflow.definition import parse_workflow
from tests.conftest import audit_count
from tests.web.browser import Browser

BASE = "https://ratschlag.example.org"
CONFIRM = re.compile(re.escape(BASE) + r"(/intake/confirm/[0-9a-f]{64})")
STATUS = re.compile(re.escape(BASE) + r"(/intake/status/[0-9a-f]{64})")
RESIDENT = "anwohnerin@example.org"


@pytest.fixture
def app_config(app_config):
    # No waiting in tests: the minimum fill time is switched on by the test that checks it.
    return {**app_config, "INTAKE_MIN_SECONDS": 0}


def started_of(page_text: str) -> str:
    found = re.search(r'<input[^>]*name="started"[^>]*>', page_text)
    assert found, "the form has no signed start time"
    return re.search(r'value="([^"]+)"', found.group(0)).group(1)


def fill(browser: Browser, slug: str, **fields) -> dict:
    browser.get(f"/processes/{slug}")
    assert 'name="website"' in browser.page.text  # the honeypot is there
    return {"name": "Erika Muster", "email": RESIDENT, "title": "Broken street lamp",
            "body": "The lamp at **Lindenplatz** is dark.", "website": "", "started": started_of(browser.page.text),
            **fields}


def nothing_stored() -> bool:
    db.session.expire_all()
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
            and db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 0
            and db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 0
            and db.session.scalar(sa.select(User).where(User.resident.is_(True))) is None)


def only_link(inbox, pattern, email=RESIDENT) -> str:
    found = [pattern.search(r.text).group(1) for r in inbox.to(email) if pattern.search(r.text)]
    assert len(found) == 1, [r.message["Subject"] for r in inbox.to(email)]
    return found[0]


def submit_and_confirm(app, inbox, work, slug="concerns", **fields) -> tuple[str, Recommendation]:
    browser = Browser(app)
    browser.post(f"/processes/{slug}/submissions", fill(browser, slug, **fields), status=200)
    work()
    email = fields.get("email", RESIDENT)
    confirm = only_link(inbox, CONFIRM, email)
    browser = Browser(app)
    browser.get(confirm)
    browser.post(confirm, {}, status=200)
    work()
    status = only_link(inbox, STATUS, email)
    rec = db.session.scalar(sa.select(Recommendation).order_by(Recommendation.id.desc()))
    return status, rec


def test_a_resident_submits_confirms_follows_and_is_mailed_the_answer(app, concern_world, people, inbox, work, runner):
    world = people(concern_world)
    slug = world.process.slug
    browser = Browser(app)
    browser.post(f"/processes/{slug}/submissions", fill(browser, slug), status=200)
    assert browser.redirected_to == f"/processes/{slug}/submissions/sent"
    assert "Please check your e-mail" in browser.text
    # Nothing is visible before the address is confirmed: not to the office, not in the lists.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 0
    moderator = Browser(app).login(world.moderator)
    moderator.get(f"/processes/{slug}")
    assert "Broken street lamp" not in moderator.text
    work()
    [mail] = inbox.to(RESIDENT)
    assert mail.message["Subject"] == "Please confirm your concern"
    assert "Broken street lamp" in mail.text and "48 hours" in mail.text
    confirm = only_link(inbox, CONFIRM)
    stored = db.session.scalar(sa.select(Submission))
    assert stored.token_hash and stored.token_hash not in confirm  # only a hash of the link is kept
    assert RESIDENT not in "".join(e.data or "" for e in db.session.scalars(sa.select(AuditEvent)))

    # A GET (a mail scanner opening the link) confirms nothing; the button does.
    page = Browser(app)
    page.get(confirm)
    assert "Confirm your concern" in page.text and "Broken street lamp" in page.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 0
    page.post(confirm, {}, status=200)
    assert page.redirected_to.startswith("/intake/status/")
    assert "Broken street lamp" in page.text and "Received" in page.text and "Lindenplatz" in page.text

    rec = db.session.scalar(sa.select(Recommendation))
    assert rec.state == "received" and rec.process_id == world.process.id
    [resident] = rec.authors
    assert resident.resident and resident.name == "Erika Muster" and resident.email == RESIDENT
    submission = db.session.get(Submission, stored.id)
    assert submission.title is None and submission.body is None and submission.name is None  # the concern holds it now
    assert submission.token_hash is None  # used up
    actions = [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq))][-3:]
    assert actions == ["submission.received", "recommendation.created", "submission.confirmed"]

    inbox.clear()
    work()
    status = only_link(inbox, STATUS)
    assert status == page.redirected_to  # the status link mailed is where the confirmation led
    assert any(world.moderator.email in r.recipients for r in inbox.received)  # the office is told (your turn)
    # The resident cannot sign in, and a reused confirmation link changes nothing.
    guesser = Browser(app)
    guesser.get("/login")
    guesser.post("/login", {"email": RESIDENT, "password": "!resident"})
    assert guesser.client.get("/notifications").status_code == 302  # not signed in
    reused = Browser(app)
    assert reused.client.get(confirm).status_code == 404
    assert reused.post(confirm, {}).status_code == 404
    assert "not valid" in reused.page.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 1

    # The office answers; the resident is mailed the step the public may see (the answer), with the private
    # link, not a sign-in page; the internal steps and their notes stay inside (CONTRACT section 8).
    inbox.clear()
    rec = services.fire(rec.id, "triage", world.moderator, "Intern: Bauhof fragen", rec.version)
    rec = services.fire(rec.id, "forward", world.moderator, None, rec.version)
    rec = services.fire(rec.id, "answer", world.administrator, "The lamp is repaired on Monday.", rec.version)
    work()
    mails = inbox.to(RESIDENT)
    assert len(mails) == 1
    answer = mails[-1].text
    assert "The lamp is repaired on Monday." in answer and BASE + status in answer
    assert "/processes/" not in answer and "/notifications/settings" not in answer
    assert all(m.message["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe/") for m in mails)
    followed = Browser(app)
    followed.get(status)
    assert "Answered" in followed.text and "The lamp is repaired on Monday." in followed.text
    assert "Triaged" in followed.text and "Forwarded to a department" in followed.text
    assert "Bauhof" not in followed.text and not any("Bauhof" in m.text for m in inbox.received)
    assert Browser(app).client.get(status[:-1] + ("0" if status[-1] != "0" else "1")).status_code == 404
    result = runner.invoke(args=["audit", "verify", "--deep"])
    assert result.exit_code == 0, result.output


def test_the_api_takes_a_submission_from_anyone(app, concern_world, world, api, inbox, work):
    slug = concern_world.process.slug
    sent = api.post(f"/processes/{slug}/submissions", None, {"email": RESIDENT, "title": "Bench", "body": "Missing."})
    assert sent.status_code == 202 and sent.json["status"] == "pending_confirmation"
    work()
    assert "/intake/confirm/" in inbox.to(RESIDENT)[0].text
    api.token(world.member)  # a token (and its event) first: a signed-in caller changes nothing either
    count = audit_count()
    refusals = [
        (f"/processes/{slug}/submissions", {"email": "not an address", "title": "T", "body": "B"}, 422),
        (f"/processes/{slug}/submissions", {"email": RESIDENT, "title": " ", "body": "B"}, 422),
        (f"/processes/{slug}/submissions", {"email": RESIDENT, "title": "T"}, 422),
        (f"/processes/{slug}/submissions", {"email": RESIDENT, "title": "T", "body": "B", "phone": "1"}, 422),
        # A workflow without intake: public takes no submissions, from anyone.
        (f"/processes/{world.process.slug}/submissions", {"email": RESIDENT, "title": "T", "body": "B"}, 404),
        ("/processes/nowhere/submissions", {"email": RESIDENT, "title": "T", "body": "B"}, 404),
    ]
    for path, payload, status in refusals:
        assert api.post(path, world.member, payload).status_code == status, payload
    assert api.post(f"/processes/{slug}/submissions", data=b"{not json").status_code == 400
    assert audit_count() == count
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_honeypot_fill_time_and_throttles_change_nothing(app, concern_world, make_user, api):
    slug = concern_world.process.slug
    # The honeypot: answered exactly like a success, nothing stored, nothing mailed.
    bot = Browser(app)
    bot.post(f"/processes/{slug}/submissions", fill(bot, slug, website="http://spam.example"), status=200)
    assert "Please check your e-mail" in bot.text
    sent = api.post(f"/processes/{slug}/submissions", json={"email": RESIDENT, "title": "T", "body": "B", "website": "x"})
    assert sent.status_code == 202
    assert nothing_stored()

    # Too quick, or a start time we did not sign: refused, what was typed is kept, nothing stored.
    app.config["INTAKE_MIN_SECONDS"] = 3600
    quick = Browser(app)
    quick.post(f"/processes/{slug}/submissions", fill(quick, slug), status=200)
    assert quick.redirected_to == f"/processes/{slug}" and "That was very quick" in quick.text
    assert 'value="Broken street lamp"' in quick.page.text
    # Too long to keep in the session: the page answers at once, with every word as typed.
    long_text = " ".join(secrets.token_urlsafe(6) for _ in range(650))  # within the 6,000 limit; does not compress into the cookie
    quick.post(f"/processes/{slug}/submissions", fill(quick, slug, body=long_text, website=""), status=422)
    assert "That was very quick" in quick.text and long_text.strip() in quick.page.text
    app.config["INTAKE_MIN_SECONDS"] = 0
    forged = Browser(app)
    app.config["INTAKE_MIN_SECONDS"] = 1
    forged.post(f"/processes/{slug}/submissions", fill(forged, slug, started="1.forged"), status=200)
    assert "That was very quick" in forged.text
    app.config["INTAKE_MIN_SECONDS"] = 0
    assert nothing_stored()

    # Per e-mail address: past the limit, answered like a success and nothing stored, the same for an
    # address that has an account and one that has none.
    app.config.update(INTAKE_FREE_PER_EMAIL=1, INTAKE_FREE_PER_ADDRESS=100)
    account = make_user("Has Account", email="konto@example.org")
    answers = []
    for email in ("konto@example.org", "niemand@example.org"):
        for n in range(2):
            answer = api.request("POST", f"/processes/{slug}/submissions",
                                 json={"email": email, "title": f"Flood {n}", "body": "B"},
                                 headers={"X-Forwarded-For": f"10.0.0.{n}"})
            answers.append((answer.status_code, answer.json))
    assert all(a == answers[0] for a in answers) and answers[0][0] == 202
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 2  # the first of each only
    assert db.session.scalar(sa.select(Submission.user_id).where(Submission.title == "Flood 0").limit(1)) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission).where(Submission.user_id == account.id)) == 1

    # Per address: past the limit, 429 with Retry-After, nothing stored.
    app.config.update(INTAKE_FREE_PER_EMAIL=100, INTAKE_FREE_PER_ADDRESS=1)
    with write_transaction() as session:
        session.execute(sa.delete(Throttle))  # counted afresh under the new limit
    first = api.post(f"/processes/{slug}/submissions", json={"email": "erst@example.org", "title": "T", "body": "B"})
    assert first.status_code == 202
    before = audit_count()
    answer = api.post(f"/processes/{slug}/submissions", json={"email": "neu@example.org", "title": "T", "body": "B"})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    assert audit_count() == before
    web = Browser(app)
    web.post(f"/processes/{slug}/submissions", fill(web, slug, email="web@example.org"), status=200)
    assert "Too many attempts" in web.text
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 3


def test_forged_and_expired_links_answer_a_clear_page_and_change_nothing(app, concern_world, inbox, work, runner):
    slug = concern_world.process.slug
    intake.submit(slug, RESIDENT, "Noise at night", "Every night.")
    work()
    confirm = only_link(inbox, CONFIRM)
    count = audit_count()
    for bad in ("/intake/confirm/" + "0" * 64, confirm[:-1] + ("0" if confirm[-1] != "0" else "1"), "/intake/confirm/x"):
        browser = Browser(app)
        page = browser.client.get(bad)
        assert page.status_code == 404 and "This link is not valid" in page.text and "Nothing was changed" in page.text
        browser.get(f"/processes/{slug}")
        assert browser.post(bad, {}).status_code == 404
    assert Browser(app).client.get("/intake/status/" + "0" * 64).status_code == 404
    assert audit_count() == count

    # Expired: the link stops working at once, and the worker deletes the submission with its data.
    with write_transaction() as session:
        session.execute(sa.update(Submission).values(expires_at=utcnow() - timedelta(seconds=1)))
    browser = Browser(app)
    assert browser.client.get(confirm).status_code == 404
    assert work()["expired"] == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
    assert db.session.scalar(sa.select(User).where(User.email == RESIDENT)) is None  # the resident row went too
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 0
    [expired] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "submission.expired")).all()
    assert "Noise" not in expired.data and RESIDENT not in expired.data
    assert intake.expiry_pass() == 0  # idempotent
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_confirmation_mail_not_yet_sent_when_the_link_expired_is_not_sent(app, concern_world, inbox, work):
    intake.submit(concern_world.process.slug, RESIDENT, "Late", "Too late.")
    with write_transaction() as session:
        session.execute(sa.update(Submission).values(expires_at=utcnow() - timedelta(seconds=1)))
    from app.notify import worker
    assert worker.drain(worker.transport()).get("skipped") == 1
    assert inbox.to(RESIDENT) == []


def database_text() -> str:
    """Every row of every table, as text: what a dump of the database would show."""
    rows = []
    for table in db.metadata.sorted_tables:
        rows += [repr(tuple(row)) for row in db.session.execute(sa.select(table))]
    return "\n".join(rows)


def test_retention_erases_the_resident_on_schedule_and_the_chain_still_verifies(
        app, concern_world, people, inbox, work, runner):
    world = people(concern_world)
    status, rec = submit_and_confirm(app, inbox, work, body="Erika Muster here: the lamp at Lindenplatz is dark.")
    resident_id = rec.authors[0].id
    rec = services.fire(rec.id, "decline", world.moderator, "Not ours: please ask the landlord.", rec.version)
    work()
    assert RESIDENT in database_text()
    assert intake.retention_pass() == 0  # the year has not passed
    assert intake.retention_pass(utcnow() + timedelta(days=364)) == 0
    # A year and a day after the decision, the worker erases the resident.
    with write_transaction() as session:
        session.execute(sa.update(Recommendation).values(state_entered_at=utcnow() - timedelta(days=366)))
    assert work()["erased"] == 1
    db.session.expire_all()
    resident = db.session.get(User, resident_id)
    assert resident.erased_at is not None and resident.email != RESIDENT and resident.name == f"Erased person {resident_id}"
    dump = database_text()
    assert RESIDENT not in dump and "Erika Muster" not in dump
    kept = db.session.get(Recommendation, rec.id)
    assert kept.title == "Broken street lamp" and kept.authors[0].id == resident_id  # under the pseudonym
    erased = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.erased"))
    assert erased.actor_id is None  # the worker, not a person
    assert intake.retention_pass(utcnow() + timedelta(days=400)) == 0  # idempotent
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and verified.output.startswith("ok:"), verified.output
    assert runner.invoke(args=["audit", "verify", "--deep"]).exit_code == 0
    # The private link ends with the person's data: a concern that never became public (this one was
    # declined) is no longer readable through it.
    gone = Browser(app).client.get(status)
    assert gone.status_code == 404 and "Broken street lamp" not in gone.get_data(as_text=True)


def test_accounts_are_never_erased_by_retention(app, concern_world, people, inbox, work):
    world = people(concern_world)
    # An address with an account: the confirmation goes to it, and the concern becomes the account's.
    _status, rec = submit_and_confirm(app, inbox, work, email=world.outsider.email)
    assert rec.authors[0].id == world.outsider.id
    services.fire(rec.id, "decline", world.moderator, "No.", rec.version)
    assert intake.retention_pass(utcnow() + timedelta(days=366)) == 0
    assert db.session.get(User, world.outsider.id).erased_at is None


def test_a_resident_who_takes_an_account_keeps_their_concerns(app, concern_world, people, inbox, work, runner):
    world = people(concern_world)
    status, rec = submit_and_confirm(app, inbox, work)
    resident_id = rec.authors[0].id
    # Invited with the same address: the resident row becomes the account, and the invitation's
    # link (to the same address) sets its password.
    inbox.clear()
    result = runner.invoke(args=["users", "invite", RESIDENT.upper(), "--name", "Erika M."])
    assert result.exit_code == 0, result.output
    work()
    path = re.search(re.escape(BASE) + r"(/password/[0-9a-f]+)", inbox.to(RESIDENT)[0].text).group(1)
    Browser(app).post(path, {"new": "erika-long-password"}, status=200)
    db.session.expire_all()
    person = db.session.get(User, resident_id)
    assert not person.resident and person.name == "Erika M."
    signed_in = Browser(app).login(person, "erika-long-password")
    signed_in.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    assert "Broken street lamp" in signed_in.text
    assert intake.retention_pass(utcnow() + timedelta(days=9999)) == 0  # an account now


def test_a_resident_takes_an_account_through_a_password_reset(app, concern_world, inbox, work):
    _status, rec = submit_and_confirm(app, inbox, work)
    inbox.clear()
    services.request_password_reset(RESIDENT)
    work()
    path = re.search(re.escape(BASE) + r"(/password/[0-9a-f]+)", inbox.to(RESIDENT)[0].text).group(1)
    Browser(app).post(path, {"new": "erika-long-password"}, status=200)
    db.session.expire_all()
    person = db.session.get(User, rec.authors[0].id)
    assert not person.resident
    Browser(app).login(person, "erika-long-password")


@pytest.mark.parametrize("text, problem", [
    ("intake: everyone\n", "'intake' must be one of: public"),
    ("retention_days: 0\n", "'retention_days' must be a whole number"),
    ("retention_days: soon\n", "'retention_days' must be a whole number"),
])
def test_workflows_check_knows_intake_and_retention(text, problem):
    base = ("title: T\ninitial: a\nstates:\n  a: {}\n  b: {final: true, outcome: done}\n"
            "transitions:\n  - {trigger: go, source: a, dest: b, roles: [moderator]}\n")
    workflow, problems = parse_workflow(text + base, "w")
    assert workflow is None and any(problem in str(p) for p in problems), problems
    good, none = parse_workflow("intake: public\nretention_days: 30\n" + base, "w")
    assert none == [] and good.intake == "public" and good.retention_days == 30


def test_workflows_check_names_the_file_and_key(runner, tmp_path):
    bad = tmp_path / "intake.yaml"
    bad.write_text("title: T\nintake: open\nretention_days: -3\ninitial: a\nstates:\n  a: {}\n"
                   "  b: {final: true, outcome: done}\ntransitions:\n  - {trigger: go, source: a, dest: b, roles: [moderator]}\n")
    result = runner.invoke(args=["workflows", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: key 'intake'" in result.output and f"{bad}:3: key 'retention_days'" in result.output, result.output
    shipped = runner.invoke(args=["workflows", "check"])
    assert shipped.exit_code == 0, shipped.output


def test_a_finished_procedure_takes_no_more_concerns_and_mails_speak_the_residents_language(
        app, concern_world, api, inbox, work):
    slug = concern_world.process.slug
    sent = api.post(f"/processes/{slug}/submissions", None, {"email": RESIDENT, "title": "Bench", "body": "Missing."},
                    headers={"Accept-Language": "en"})
    assert sent.status_code == 202
    work()
    [mail] = inbox.to(RESIDENT)
    assert mail.message["Content-Language"] == "en"
    process = db.session.get(Process, concern_world.process.id)
    process.status = "finished"
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Submission))
    late = api.post(f"/processes/{slug}/submissions", None, {"email": "late@example.org", "title": "Late", "body": "Too late."})
    assert late.status_code == 404
    page = Browser(app).client.get(f"/processes/{slug}")
    assert page.status_code == 200 and f'action="/processes/{slug}/submissions"' not in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == before


def test_a_resident_files_the_concern_under_a_category_and_its_department_answers(
        app, concern_world, people, inbox, work, api):
    world = people(concern_world)
    slug = world.process.slug
    light = services.create_department("licht", "Straßenbeleuchtung")
    categories.create_category(world.process, "licht", "Licht und Laternen", "licht", None)
    # an unknown category: refused at its field, nothing stored
    refused = api.post(f"/processes/{slug}/submissions", None,
                       {"email": RESIDENT, "title": "Lamp", "body": "Dark.", "category": "nowhere"})
    assert refused.status_code == 422 and nothing_stored()
    browser = Browser(app)
    browser.get(f"/processes/{slug}")
    assert "Licht und Laternen" in browser.text  # offered on the form
    _status, rec = submit_and_confirm(app, inbox, work, category="licht")
    assert rec.category_id is not None
    rec = services.fire(rec.id, "triage", world.moderator, None, rec.version)
    rec = services.fire(rec.id, "forward", world.moderator, None, rec.version)
    asked = db.session.scalars(sa.select(Statement).where(Statement.recommendation_id == rec.id)).all()
    assert [s.department_id for s in asked] == [light.id]  # routed to the category's department


def test_a_concerns_history_speaks_of_the_text_not_of_a_recommendation(app, concern_world, people, inbox, work):
    world = people(concern_world)
    _status, rec = submit_and_confirm(app, inbox, work)
    page = Browser(app).login(world.moderator)
    page.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    assert "Erika Muster wrote the text." in page.text
    assert "recommendation" not in page.text.split("Sign out", 1)[1].lower()  # the page below the site's navigation


def test_a_subject_too_long_is_refused_at_its_field_not_cut_by_the_browser(app, concern_world):
    """No field of the public form carries maxlength: a pasted text stays whole, and the page says what is too long."""
    slug = concern_world.process.slug
    browser = Browser(app)
    fields = fill(browser, slug, title="S" * 201)
    form = browser.page.text.split('name="website"')[0].rsplit("<form", 1)[1]
    assert "maxlength" not in form
    browser.post(f"/processes/{slug}/submissions", fields, status=200)
    assert "200" in browser.text and ("S" * 201) in browser.page.text  # said, and kept as typed
    assert nothing_stored()
