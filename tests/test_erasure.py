"""Erasing a person (docs/auditing.md, "Erasure"): ``ratschlag users erase EMAIL --yes`` and the
superusers' page anonymize the account and blank the v2 payloads that hold the person's data; the
chain and the deep check still pass, one ``user.erased`` event records it, and nothing else changes."""
from __future__ import annotations

import json
import unicodedata

import pytest
import sqlalchemy as sa

from app import audit, services
from app.errors import ValidationError
from app.extensions import db
from app.models import (ApiToken, AuditEvent, Comment, DepartmentMember, Mail, Membership, Notification, Recommendation,
                        User)
from tests.conftest import audit_count, path_to
from tests.test_audit_v2 import cli, lines, recipe
from tests.web.browser import PASSWORD, Browser

NAME, EMAIL = "Wilhelmine Quast", "W.Quast@Example.org"
SECRETS = ("wilhelmine", "quast")  # every trace of the name or address contains one of these


def fire_along(world, rec, state, author):
    from app.workflow import engine
    for _source, transition in path_to(engine().get(world.process.workflow_id), state):
        role = transition.roles[0]
        actor = author if role in ("author", "member") else world.by_role(role)
        rec = services.fire(rec.id, transition.trigger, actor, "Weil es richtig ist.", rec.version)
    return rec


@pytest.fixture
def victim(world, people, rec_in):
    """A person with roles in a process and a department, a token, public and non-public texts, a
    report and a co-authorship, among other people's contributions."""
    people(world)
    person = services.create_user(EMAIL, NAME, password=PASSWORD)[0]
    services.grant_role(world.process, person, "member")
    others = rec_in(world, "draft", title="Fremder Entwurf")
    services.add_author(others.id, world.author, person)  # the event names the co-author (a member then)
    services.grant_role(world.process, person, "moderator")
    department = services.create_department("umwelt", "Umweltamt")
    services.add_department_member(department, person)
    token = services.create_token(person, "Laptop")
    public = services.create_recommendation(world.process.id, person, "Mehr Bänke am Ufer", "Zum Ausruhen.")
    public = fire_along(world, public, "steering_review", person)
    draft = services.create_recommendation(world.process.id, person, "Noch geheim", "Entwurfstext der Person.")
    services.update_recommendation(draft.id, person, draft.version, body="Überarbeiteter Entwurf.")
    said = services.create_comment(public.id, person, "Öffentlich gesagt.")
    note = services.create_comment(public.id, person, "Interne Notiz der Person.", visibility="internal")
    rude = services.create_comment(public.id, person, "Unhöflich gesagt.")
    services.hide_comment(rude.id, world.moderator, "Bitte sachlich bleiben.")
    other = services.create_comment(public.id, world.member, "Ein anderer Kommentar.")
    report = services.report_comment(other.id, person, "Meldegrund der Person.")
    # other people name them, in a public comment and in a draft's text
    mention = services.create_comment(public.id, world.member, f"Ich stimme **{NAME}** zu.")
    others = services.update_recommendation(others.id, world.author, others.version,
                                            body=f"Abgestimmt mit {EMAIL.lower()} und der Moderation.")
    return dict(person=person, token=token, public=public, draft=draft, others=others, said=said, note=note,
                rude=rude, other=other, report=report, mention=mention, world=world)


def payload(action: str, subject_id: int) -> dict | None:
    row = db.session.execute(sa.select(AuditEvent.data).where(
        AuditEvent.action == action, AuditEvent.subject_id == subject_id).order_by(AuditEvent.seq)).first()
    return None if row.data is None else json.loads(row.data)


def text_values() -> list[tuple[str, str, str]]:
    """Every text value in every table: (table, column, value)."""
    inspector = sa.inspect(db.engine)
    found = []
    for table in inspector.get_table_names():
        columns = [c["name"] for c in inspector.get_columns(table) if isinstance(c["type"], (sa.String, sa.Text))]
        for column in columns:
            for (value,) in db.session.execute(sa.text(f'SELECT "{column}" FROM "{table}"')):
                if value is not None:
                    found.append((table, column, value))
    return found


def test_the_command_wants_yes_and_changes_nothing_without_it(victim, runner):
    events = audit_count()
    result = cli(runner, "users", "erase", EMAIL)
    assert result.exit_code == 1
    assert "cannot be undone; nothing was changed. Add --yes to erase." in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert audit_count() == events
    user = db.session.get(User, victim["person"].id)
    assert (user.name, user.email, user.erased_at) == (NAME, EMAIL, None)


def test_erasure_anonymizes_the_person_and_keeps_the_chain_whole(victim, runner, app, api):
    person, world = victim["person"], victim["world"]
    signed_in = Browser(app).login(person)
    assert signed_in.client.get("/my").status_code == 200
    # outside the trail, what others were told quotes them (a transition's note), and a mail server's refusal
    # names their address: rows as the notification service and the worker write them
    told = Notification(user_id=world.moderator.id, kind="your_turn", event="transition",
                        recommendation_id=victim["others"].id, data=json.dumps(
                            {"note": f"Mit {NAME} abgestimmt", "trigger": "submit"}, ensure_ascii=False))
    refused = Mail(user_id=world.member.id, kind="your_turn", message_id="<erasure-test@ratschlag>", status="failed",
                   last_error=f"550 5.1.1 <{EMAIL}>: mailbox unavailable")
    db.session.add_all([told, refused])
    db.session.commit()
    before = {row.seq: row for row in db.session.execute(sa.select(AuditEvent.seq, AuditEvent.data, AuditEvent.hash))}

    result = cli(runner, "users", "erase", EMAIL.lower(), "--yes")
    assert result.exit_code == 0, result.output
    erased_event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.erased")).one()
    data = json.loads(erased_event.data)
    assert result.stdout.splitlines()[0] == (f"erased user {person.id}, now Erased person {person.id}: "
                                             f"{len(data['erased_events'])} audit payloads erased")
    assert (erased_event.subject_type, erased_event.subject_id, erased_event.actor_id) == ("user", person.id, None)
    assert data == {"pseudonym": f"Erased person {person.id}", "erased_events": data["erased_events"],
                    "v1_events_kept": 0, "roles_ended": 2, "departments_left": 1, "submissions_withdrawn": 0,
                    "redacted": {"comment": [victim["mention"].id], "recommendation": [victim["others"].id]}}

    # exactly the listed payloads were blanked, nothing else changed, and the chain verifies
    after = {row.seq: row for row in db.session.execute(sa.select(AuditEvent.seq, AuditEvent.data, AuditEvent.hash))}
    assert max(after) == max(before) + 1
    blanked = sorted(seq for seq in before if before[seq].data is not None and after[seq].data is None)
    assert blanked == data["erased_events"] and len(blanked) == 10  # the ten listed below
    assert all(after[seq].hash == before[seq].hash for seq in before)
    assert all(after[seq].data == before[seq].data for seq in before if seq not in blanked)
    verify = cli(runner, "audit", "verify")
    assert verify.exit_code == 0
    assert verify.stdout.strip() == (f"ok: {max(after)} events, head {audit.head()[1]} "
                                     f"({len(blanked)} erased payloads not checked)")
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 0, deep.output
    assert deep.stdout.splitlines()[-1].endswith("agree with the events")

    # the name and the address are nowhere in the database
    leaks = [(t, c, v[:80]) for t, c, v in text_values() if any(s in v.lower() for s in SECRETS)]
    assert leaks == []
    db.session.expire_all()
    assert json.loads(db.session.get(Notification, told.id).data)["note"] == f"Mit Erased person {person.id} abgestimmt"
    assert db.session.get(Mail, refused.id).last_error == f"550 5.1.1 <Erased person {person.id}>: mailbox unavailable"

    # the account: pseudonym, no address, nothing to sign in with, no roles
    user = db.session.get(User, person.id)
    assert (user.name, user.active, user.is_superuser) == (f"Erased person {person.id}", False, False)
    assert "@" not in user.email and user.erased_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(Membership.user_id == person.id)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DepartmentMember)
                             .where(DepartmentMember.user_id == person.id)) == 0
    assert all(t.revoked_at is not None and t.label == "" for t in
               db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == person.id)))
    assert api.get("/processes", headers={"Authorization": f"Bearer {victim['token']}"}).status_code == 401
    browser = Browser(app)
    browser.get("/login")
    browser.post("/login", {"email": EMAIL, "password": PASSWORD})
    assert "E-mail or password is wrong." in browser.text
    assert browser.client.get("/my").status_code == 302
    assert signed_in.client.get("/my").status_code == 302  # the session that was open has ended

    # public contributions stay, under the pseudonym; non-public texts are gone from the trail
    assert db.session.get(Recommendation, victim["public"].id).title == "Mehr Bänke am Ufer"
    assert payload("recommendation.created", victim["public"].id)["title"] == "Mehr Bänke am Ufer"
    assert payload("comment.created", victim["said"].id)["body"] == "Öffentlich gesagt."
    assert payload("recommendation.created", victim["draft"].id) is None
    assert payload("recommendation.updated", victim["draft"].id) is None
    assert payload("comment.created", victim["note"].id) is None
    assert payload("comment.created", victim["rude"].id) is None  # hidden: not public
    assert payload("comment.reported", victim["report"].id) is None
    assert payload("recommendation.author_added", victim["others"].id) is None
    # other people's texts that named them: the name is the pseudonym now, in the tables; erased in the trail
    mention = db.session.get(Comment, victim["mention"].id)
    assert mention.body == f"Ich stimme **Erased person {person.id}** zu."
    assert mention.body_html == f"<p>Ich stimme <strong>Erased person {person.id}</strong> zu.</p>"
    assert payload("comment.created", victim["mention"].id) is None
    assert db.session.get(Recommendation, victim["others"].id).body == \
        f"Abgestimmt mit Erased person {person.id} und der Moderation."
    assert payload("recommendation.updated", victim["others"].id) is None
    assert payload("user.created", person.id) is None
    assert payload("token.created", db.session.scalars(sa.select(ApiToken.id).where(ApiToken.user_id == person.id)).first()) is None
    # the state changes stay: the transitions' payloads say what happened
    transitions = db.session.scalars(sa.select(AuditEvent.data).where(
        AuditEvent.action == "recommendation.transitioned", AuditEvent.subject_id == victim["public"].id)).all()
    assert [json.loads(d)["to"] for d in transitions] == ["submitted", "in_moderation", "steering_review"]

    # other people's data is untouched
    assert payload("user.created", world.member.id)["email"] == world.member.email
    assert payload("comment.created", victim["other"].id)["body"] == "Ein anderer Kommentar."
    assert payload("comment.hidden", victim["rude"].id) == {"reason": "Bitte sachlich bleiben."}
    assert payload("recommendation.created", victim["others"].id)["title"] == "Fremder Entwurf"
    assert db.session.get(User, world.member.id).email == world.member.email
    assert db.session.get(Comment, victim["note"].id).body == "Interne Notiz der Person."  # the file keeps it


def test_readers_see_erased_payloads_and_the_pseudonym(victim, runner, app, api, browser):
    person, world = victim["person"], victim["world"]
    assert cli(runner, "users", "erase", EMAIL, "--yes").exit_code == 0
    # the events endpoint: erased payloads say so, the actor is the pseudonym
    events = api.get(f"/recommendations/{victim['draft'].id}/events", world.moderator).json["items"]
    created = events[0]
    assert (created["action"], created["data"], created["salt"], created["erased"]) == \
        ("recommendation.created", None, None, True)
    assert created["actor"] == {"id": person.id, "name": f"Erased person {person.id}"}
    assert len(created["data_digest"]) == 64
    public = api.get(f"/recommendations/{victim['public'].id}").json
    assert public["authors"] == [{"id": person.id, "name": f"Erased person {person.id}"}]
    # the public export marks them, and still verifies with the twenty-line script
    exported = cli(runner, "audit", "export", "--public").stdout
    erased = [e for e in lines(exported) if e.get("erased")]
    assert erased and all(e["data"] is None and e["salt"] is None for e in erased)
    assert not any(s in exported.lower() for s in SECRETS)
    assert recipe(exported).stdout == cli(runner, "audit", "verify").stdout
    # pages: "erased person" in English and German, never the name
    page = f"/processes/{world.process.slug}/recommendations/{victim['public'].number}"
    english = browser(world.member).get(page).text
    assert f"Erased person {person.id}" in english and "Quast" not in english
    german = browser(world.moderator)
    german.client.get("/language/de")
    german_text = german.get(page).text
    assert f"Gelöschte Person {person.id}" in german_text and "Quast" not in german_text


def test_a_second_erasure_is_a_clear_error(victim, runner):
    person = victim["person"]
    assert cli(runner, "users", "erase", EMAIL, "--yes").exit_code == 0
    events = audit_count()
    again = cli(runner, "users", "erase", EMAIL, "--yes")
    assert again.exit_code == 1 and again.stderr.strip() == f"Error: there is no user with the e-mail {EMAIL}"
    pseudonymous = cli(runner, "users", "erase", f"erased-{person.id}", "--yes")
    assert pseudonymous.exit_code == 1 and "there is no user" in pseudonymous.stderr
    with pytest.raises(ValidationError, match=f"Erased person {person.id} is erased already"):
        services.erase_user(person.id)
    assert audit_count() == events
    with pytest.raises(ValidationError, match="cannot be used again"):
        services.set_active(victim["world"].superuser, person.id, True)


def test_the_superusers_page_asks_for_the_address_first(victim, app, browser):
    person, world = victim["person"], victim["world"]
    admin = browser(world.superuser)
    admin.get("/admin/users")
    assert f"Erase {NAME}…" in admin.text
    url = f"/admin/users/{person.id}/erase"
    admin.get(url)
    assert "cannot be undone" in admin.text
    events = audit_count()
    admin.post(url, {"confirm": "someone@example.org"}, status=422)
    assert "This is not the person's e-mail address; nothing was erased." in admin.text
    admin.post(url, {"confirm": ""}, status=422)
    assert audit_count() == events and db.session.get(User, person.id).name == NAME
    # without its CSRF token the form is refused
    assert admin.client.post(url, data={"confirm": EMAIL}).status_code == 400
    assert audit_count() == events
    admin.get(url)
    admin.post(url, {"confirm": EMAIL.upper()}, status=200)
    assert f"The person is erased and now appears as “Erased person {person.id}”" in admin.text
    assert db.session.get(User, person.id).erased_at is not None
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.erased")).one()
    assert event.actor_id == world.superuser.id
    log = admin.get("/admin/audit").text  # the audit log: the erased payloads say so, the name is gone
    assert "user.erased" in log and log.count("erased") > len(json.loads(event.data)["erased_events"])
    assert "Quast" not in log and EMAIL.lower() not in log.lower()
    # erased already: the page says so and changes nothing
    again = admin.client.get(url, follow_redirects=True)
    assert "This person is erased already." in again.text
    assert f"Erased person {person.id}" in again.text and "Quast" not in again.text
    assert audit_count() == events + 1
    # a superuser cannot erase themselves
    with pytest.raises(ValidationError, match="your own account"):
        services.erase_user(world.superuser.id, actor=world.superuser)


def test_only_superusers_erase(victim, app, browser):
    person, world = victim["person"], victim["world"]
    events = audit_count()
    for role in ("member", "author", "moderator", "administrator", "outsider"):
        visitor = browser(world.by_role(role))
        visitor.get("/")
        assert visitor.client.get(f"/admin/users/{person.id}/erase").status_code == 403
        assert visitor.post(f"/admin/users/{person.id}/erase", {"confirm": EMAIL}).status_code == 403
    anonymous = Browser(app)
    assert anonymous.client.get(f"/admin/users/{person.id}/erase").status_code == 302
    from app.errors import Forbidden
    with pytest.raises(Forbidden):
        services.erase_user(person.id, actor=world.moderator)
    assert audit_count() == events and db.session.get(User, person.id).name == NAME


def test_v1_events_that_hold_their_data_are_counted_and_left(victim, runner):
    """An event of the format before v2 hashes its data: erasing it would break the chain."""
    person, world = victim["person"], victim["world"]
    seq, prev = audit.head()
    at, body = "2026-11-01T10:00:00.000000Z", f"Danke an {NAME}!"
    with db.engine.begin() as conn:  # a comment from before v2 that names them, and their account's creation
        comment_id = conn.execute(sa.text(
            "INSERT INTO comments (recommendation_id, author_id, body, body_html, visibility, created_at, hidden) "
            "VALUES (:rec, :author, :body, :html, 'public', '2026-11-01 10:00:00', false) RETURNING id"),
            {"rec": victim["public"].id, "author": world.member.id, "body": body, "html": f"<p>{body}</p>"}).scalar()
        for n, (actor, action, kind, subject, data) in enumerate((
                (None, "user.created", "user", person.id, {"email": EMAIL, "name": NAME, "superuser": False}),
                (world.member.id, "comment.created", "comment", comment_id,
                 {"body": body, "visibility": "public", "parent_id": None})),
                start=seq + 1):
            digest = audit.compute_hash(prev, n, at, actor, action, kind, subject, data)
            conn.execute(sa.text(
                "INSERT INTO audit_events (seq, at, actor_id, action, subject_type, subject_id, data, prev_hash, hash) "
                "VALUES (:seq, :at, :actor, :action, :kind, :id, :data, :prev, :hash)"),
                {"seq": n, "at": at, "actor": actor, "action": action, "kind": kind, "id": subject,
                 "data": audit.canonical_data(data), "prev": prev, "hash": digest})
            prev = digest
    assert cli(runner, "audit", "verify", "--deep").exit_code == 0
    result = cli(runner, "users", "erase", EMAIL, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == ("2 events written before audit format v2 hold their data and cannot "
                                             "be erased without breaking the chain: they were left")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.erased")).one()
    assert json.loads(event.data)["v1_events_kept"] == 2
    assert json.loads(db.session.get(AuditEvent, seq + 1).data)["email"] == EMAIL  # still there, and still hashed
    # the table names the pseudonym now, the v1 event still the person: the deep check knows why
    assert db.session.get(Comment, comment_id).body == f"Danke an Erased person {person.id}!"
    assert comment_id in json.loads(event.data)["redacted"]["comment"]
    assert cli(runner, "audit", "verify").exit_code == 0
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 0, deep.output


def test_deep_still_finds_a_role_given_back_to_an_erased_person_by_sql(victim, runner, world):
    from tests.test_audit import tamper
    person = victim["person"]
    assert cli(runner, "users", "erase", EMAIL, "--yes").exit_code == 0
    granted = [row.subject_id for row in db.session.execute(sa.text(
        "SELECT subject_id, data FROM audit_events WHERE action = 'membership.granted' ORDER BY seq"))
        if json.loads(row.data)["user_id"] == person.id]
    tamper("INSERT INTO memberships (id, user_id, process_id, role, created_at) "
           "VALUES (:id, :user, :process, 'moderator', '2026-11-01 10:00:00')",
           id=granted[-1], user=person.id, process=world.process.id)
    deep = cli(runner, "audit", "verify", "--deep")
    assert deep.exit_code == 1
    assert deep.stderr.strip() == (f"bad: membership {granted[-1]}: the events say it ended when its holder "
                                   "was erased")


def test_a_mention_is_the_whole_name_or_address_in_any_case():
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name='Max "Maxi" Muster', email="max@example.org"))
    assert person.names("Danke, MAX \"MAXI\" MUSTER!") and person.names("an max@Example.org schreiben")
    assert person.names('{"body":"Max \\"Maxi\\" Muster sagt"}')  # as canonical JSON writes it
    assert not person.names("maximal Max Mustermann") and not person.names("remax@example.org")
    assert person.redact("Gruß an max \"maxi\" muster und max@example.org.") == \
        "Gruß an Erased person 7 und Erased person 7."
    short = Person(SimpleNamespace(id=8, name="Al", email="al@example.org"))  # too short to search for alone
    assert not short.names("Al sagt") and short.names("al@example.org")


@pytest.mark.parametrize("name", ["und", "public", "Amira"])
def test_a_one_word_name_is_not_searched_in_other_peoples_texts(victim, runner, world, api, name):
    """Found by the review of issue 16: erasing a person named "und" rewrote other people's titles
    and texts, and one named "public" blanked every public comment's payload. Only the address, and
    a name of two words or more, count as mentions."""
    from app.services.erasure import Person
    from types import SimpleNamespace
    assert not Person(SimpleNamespace(id=9, name=name, email="x@example.org")).names(f"Kinder {name} Jugendliche")
    person = services.create_user("einwort@example.org", name, password=PASSWORD)[0]
    services.grant_role(world.process, person, "member")
    rec = services.create_recommendation(world.process.id, world.author, f"Kinder {name} Jugendliche beteiligen",
                                         '{"visibility":"public"} und mehr')
    before = audit.head()[0]
    events_with_public = db.session.scalar(sa.text(
        "SELECT count(*) FROM audit_events WHERE data IS NOT NULL AND data LIKE :p"), {"p": '%"visibility":"public"%'})
    assert runner.invoke(args=["users", "erase", "einwort@example.org", "--yes"]).exit_code == 0
    db.session.expire_all()
    kept = db.session.get(type(rec), rec.id)
    assert kept.title == f"Kinder {name} Jugendliche beteiligen" and "und mehr" in kept.body
    assert db.session.scalar(sa.text(
        "SELECT count(*) FROM audit_events WHERE data IS NOT NULL AND data LIKE :p AND seq <= :s"),
        {"s": before, "p": '%"visibility":"public"%'}) == events_with_public
    assert audit.verify().ok


@pytest.mark.parametrize("name, written", [
    ("Işık Yılmaz", "IŞIK YILMAZ"),  # dotless ı: "ışık".upper() is "IŞIK", whose lower() is "işik"
    ("Işık Yılmaz", "işık yılmaz"),
    ("İlkay Demir", "ILKAY DEMIR"),  # dotted İ: lower() makes "i̇lkay" (two characters)
    ("İlkay Demir", "ilkay demir"),
    ("Ilkay Demir", "İLKAY DEMİR"),  # and the other way round
    ("Ilkay Demir", "ılkay demır"),
    ("José García", unicodedata.normalize("NFD", "JOSÉ GARCÍA")),  # decomposed accents
    ("Max Straße", "MAX STRASSE"),
])
def test_a_name_is_found_whatever_its_case_form_and_turkish_i(name, written):
    """Found by the review of issue 16: the search lower-cased both sides, so "Işık Yılmaz" was not
    found in "IŞIK YILMAZ" (nor "İlkay Demir" in "ILKAY DEMIR") and stayed in other people's texts."""
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name=name, email="p@example.org"))
    text = f"Danke an {written}, sagt Gül."
    assert person.names(text) and person.names(json.dumps({"body": text}, ensure_ascii=False))
    assert person.redact(text) == "Danke an Erased person 7, sagt Gül."
    assert not person.names(f"Danke an {written}ı und {written[:-1]}")  # still whole words only


def test_erasing_a_turkish_name_replaces_it_written_in_capitals(world, runner):
    person = services.create_user("isik@example.org", "Işık Yılmaz", password=PASSWORD)[0]
    rec = services.create_recommendation(world.process.id, world.author, "Sitzbänke", "Wie IŞIK YILMAZ vorschlug.")
    assert cli(runner, "users", "erase", "isik@example.org", "--yes").exit_code == 0
    db.session.expire_all()
    assert db.session.get(Recommendation, rec.id).body == f"Wie Erased person {person.id} vorschlug."
    assert payload("recommendation.created", rec.id) is None  # the payload named them
    assert audit.verify().ok


def test_a_name_after_a_line_break_in_stored_json_or_in_markdown_emphasis_is_found(world, rec_in, make_user):
    """Stored JSON writes a line break as \\n, so the name's first letter followed an "n"; Markdown's
    _emphasis_ puts an underscore beside it. Both hid the name from erasure. A longer name that only
    begins with it ("Max Muster-Lang") is someone else and stays."""
    max_ = make_user("Max Muster")
    rec = rec_in(world, "steering_review")
    services.create_comment(rec.id, world.member, "Teilnehmende:\nMax Muster\nund _Max Muster_ sowie Max Muster-Lang")
    events = audit_count()
    services.erase_user(max_.id, world.superuser)
    comment = db.session.scalars(db.select(Comment).where(Comment.recommendation_id == rec.id)).one()
    assert "Max Muster\n" not in comment.body and "_Max Muster_" not in comment.body
    assert comment.body.count("Max Muster") == 1 and "Max Muster-Lang" in comment.body
    stored = db.session.scalars(db.select(AuditEvent.data).where(AuditEvent.action == "comment.created")).all()
    assert not any("Max Muster\\n" in (data or "") or "_Max Muster_" in (data or "") for data in stored)
    assert audit_count() == events + 1 and audit.verify().ok


def test_a_report_names_its_reporter_only_inside_the_salted_payload(world, rec_in, api):
    """The actor is hashed in the clear: a withheld actor could be found by trying user ids. A report's
    event has no actor; its reporter is in the payload, which only moderators read."""
    rec = rec_in(world, "steering_review")
    comment = services.create_comment(rec.id, world.author, "Unfreundlich.")
    services.report_comment(comment.id, world.member, "Beleidigend.")
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "comment.reported")).one()
    assert event.actor_id is None and json.loads(event.data)["user_id"] == world.member.id
    public = [e for e in api.get(f"/recommendations/{rec.id}/events").json["items"] if e["action"] == "comment.reported"]
    assert public == [] or (public[0]["actor_id"] is None and public[0]["data"] is None)
    mod = [e for e in api.get(f"/recommendations/{rec.id}/events", world.moderator).json["items"]
           if e["action"] == "comment.reported"]
    assert mod[0]["data"]["user_id"] == world.member.id
    services.erase_user(world.member.id, world.superuser)
    db.session.expire_all()
    assert db.session.get(AuditEvent, event.seq).data is None  # the report went with its reporter


def test_on_sqlite_the_erased_name_leaves_the_database_file(world, rec_in, make_user):
    """The search index kept the words of redacted texts in its segments, and freed pages kept old rows:
    the name was still in the file (and every backup of it) though no page showed it."""
    person = make_user("Wilhelmine Quastenflosser")
    rec = rec_in(world, "steering_review", title="Sprechstunde")
    services.create_comment(rec.id, world.member, "Danke an Wilhelmine Quastenflosser für die Einladung.")
    services.erase_user(person.id, world.superuser)
    if db.engine.dialect.name == "postgresql":  # its index is a column of the row, computed again on update
        found = db.session.execute(sa.text(
            "SELECT count(*) FROM comments WHERE search_vector @@ plainto_tsquery('german', 'Quastenflosser')")).scalar()
        assert found == 0
        return
    path = db.engine.url.database
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    data = open(path, "rb").read()
    assert b"quastenflosser" not in data.lower()


@pytest.mark.parametrize("written", [
    "Max  Muster",  # a double space
    "Max\nMuster", "Max\r\nMuster", "Max \n  Muster",  # a line break inside
    "Max\u00a0Muster", "Max\u202fMuster", "Max\tMuster",  # a no-break space, a narrow one, a tab
    "Mus\u00adter", "M\u200bax Mus\u200cter", "Max Mu\u2060s\ufeffter",  # invisible characters inside
    "Muster, Max", "MUSTER,\nMAX", "Muster ,Max", "Mus\u00adter,\u00a0Max",  # surname first
])
def test_a_name_is_found_across_any_whitespace_invisible_characters_and_surname_first(written):
    """Found by the review of issue 16: the name was only found written exactly "Max Muster", so a double
    space, a line break, a no-break space or a soft hyphen inside it, or the order "Muster, Max" kept it in
    other people's texts and payloads after the erasure."""
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name="Max Muster", email="max@example.org"))
    if "," not in written and "Max" not in written.replace("\u200b", "").replace("\ufeff", ""):
        written = "Max " + written
    text = f"Danke an {written}, sagt Gül."
    assert person.names(text)
    assert person.names(json.dumps({"body": text}, ensure_ascii=False))  # as stored: "\n" is written "\\n"
    assert person.redact(text) == "Danke an Erased person 7, sagt Gül."
    stored = json.dumps({"body": text}, ensure_ascii=False)
    assert json.loads(person.redact(stored)) == {"body": "Danke an Erased person 7, sagt Gül."}


@pytest.mark.parametrize("written", [
    "Max Mustermann", "Maxi Muster", "Max Muster-Lang", "Muster, Maximilian", "Muster-Lang, Max",
    "Muster Max",  # surname first only with its comma
    "Max\u00adi Muster", "Mus\u00adterfrau, Max",  # a soft hyphen joins letters into another word
    "Ab\u00adMax Muster",  # ... and "AbMax" is not "Max"
    "Max-\nMuster", "Max, Muster", "Muster; Max", "Max.Muster",
])
def test_a_near_miss_of_the_name_stays(written):
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name="Max Muster", email="max@example.org"))
    text = f"Danke an {written}, sagt Gül."
    assert not person.names(text) and not person.names(json.dumps({"body": text}, ensure_ascii=False))
    assert person.redact(text) == text


def test_erasure_finds_the_name_with_odd_spacing_or_surname_first_in_texts_and_payloads(world, rec_in, make_user):
    """The whole path: comments, a transition's note and their payloads name the person in forms a reader
    takes for the name; each is replaced and each payload blanked, and a near miss keeps its text and payload."""
    person = make_user("Max Muster")
    rec = rec_in(world, "steering_review")
    bodies = ["Laut Muster, Max ist das gut.", "Gesprochen mit Max  Muster.", "Teilnehmende: Max\r\nMuster",
              "Dank an Max\u00a0Mus\u00adter!"]
    named = [services.create_comment(rec.id, world.member, body).id for body in bodies]
    near = services.create_comment(rec.id, world.member, "Das meinte Max Mustermann, nicht Muster Max.").id
    events = audit_count()
    services.erase_user(person.id, world.superuser)
    db.session.expire_all()
    for comment_id in named:
        body = db.session.get(Comment, comment_id).body
        assert f"Erased person {person.id}" in body and "muster" not in body.lower(), body
        assert payload("comment.created", comment_id) is None
    assert db.session.get(Comment, near).body == "Das meinte Max Mustermann, nicht Muster Max."
    assert payload("comment.created", near)["body"] == "Das meinte Max Mustermann, nicht Muster Max."
    assert audit_count() == events + 1 and audit.verify().ok


def test_the_last_active_superuser_is_not_erased(world, runner, make_user):
    """Found by the review of issue 16: ``users erase EMAIL --yes`` erased the only active superuser
    without a word, leaving nobody to administer the installation on the web (an erased account cannot
    be reactivated). It is refused, and changes nothing; an inactive superuser does not count."""
    only = world.superuser
    dormant = make_user("Ruhende Admin", superuser=True)
    services.set_active(only, dormant.id, False)
    events, head = audit_count(), audit.head()
    created = payload("user.created", only.id)
    result = cli(runner, "users", "erase", only.email, "--yes")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == (
        "Error: Superuser is the last active superuser: erasing them would leave nobody to administer the "
        "installation; nothing was changed. Create another superuser first "
        "(ratschlag users create EMAIL --name NAME --superuser).")
    db.session.expire_all()
    kept = db.session.get(User, only.id)
    assert (kept.name, kept.email, kept.active, kept.is_superuser, kept.erased_at) == (
        "Superuser", only.email, True, True, None)
    assert audit_count() == events and audit.head() == head and payload("user.created", only.id) == created
    with pytest.raises(ValidationError, match="last active superuser"):
        services.erase_user(only.id)
    # the inactive one may go: it administers nothing
    assert cli(runner, "users", "erase", dormant.email, "--yes").exit_code == 0
    # with another active superuser, either can be erased, and then the other is the last
    second = cli(runner, "users", "create", "zweite@example.org", "--name", "Zweite Admin", "--superuser")
    assert second.exit_code == 0, second.output
    done = cli(runner, "users", "erase", only.email, "--yes")
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert db.session.get(User, only.id).erased_at is not None
    last = cli(runner, "users", "erase", "zweite@example.org", "--yes")
    assert last.exit_code == 1 and "Zweite Admin is the last active superuser" in last.stderr
    assert audit.verify().ok


def test_a_superuser_erases_another_superuser_on_the_page(world, people, browser, make_user):
    """The page runs the same check as the command; signed in, a superuser is always another active one
    (their own account they cannot erase), so there erasing a fellow superuser works, down to the last
    but one."""
    people(world)
    other = make_user("Andere Admin", email="andere@example.org", superuser=True)
    admin = browser(world.superuser)
    url = f"/admin/users/{other.id}/erase"
    admin.get(url)
    admin.post(url, {"confirm": "andere@example.org"}, status=200)
    assert f"The person is erased and now appears as “Erased person {other.id}”" in admin.text
    db.session.expire_all()
    erased = db.session.get(User, other.id)
    assert erased.erased_at is not None and not erased.is_superuser
    assert audit.verify().ok


ADDRESS = "wj@example.org"


@pytest.mark.parametrize("written", [
    "tom.wj@example.org", "tom_wj@example.org", "tom+wj@example.org", "tom%wj@example.org", "tom/wj@example.org",
    "tom-wj@example.org", "o'wj@example.org", "7wj@example.org", "jürgen.wj@example.org",
    "wj@example.org.uk", "wj@example.org.evil.net", "wj@example.org_x", "wj@example.organisation", "wj@example.org-x",
    "tom.wj%40example.org", "wj%40example.org.uk",
])
def test_another_address_that_contains_the_address_stays(written):
    """Found by the second review of issue 16: "tom.wj@example.org" and "wj@example.org.uk" were taken
    for wj@example.org, so erasing wj redacted other people's addresses and blanked their public comments'
    payloads. An address counts only as a whole address."""
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name="Wilhelmine Jäger", email=ADDRESS))
    text = f"Mail an {written} bitte."
    assert not person.names(text) and not person.names(json.dumps({"body": text}, ensure_ascii=False)), written
    assert person.redact(text) == text


@pytest.mark.parametrize("written, redacted", [
    ("Schreiben Sie an wj@example.org.", "Schreiben Sie an Erased person 7."),  # the sentence's full stop
    ("an WJ@Example.ORG, bitte", "an Erased person 7, bitte"),
    ("Mail: <wj@example.org>", "Mail: <Erased person 7>"),
    ("[Mail](mailto:wj@example.org)", "[Mail](mailto:Erased person 7)"),
    ("an **wj@example.org** oder _wj@example.org_", "an **Erased person 7** oder _Erased person 7_"),
    ("Adresse `wj@example.org`", "Adresse `Erased person 7`"),
    ("Mail an wj&#64;example.org", "Mail an Erased person 7"),  # a character reference shows as "@"
    ("Link https://example.net/?to=wj%40example.org", "Link https://example.net/?to=Erased person 7"),
    ("Link https://example.net/?a=1&cc=wj@example.org", "Link https://example.net/?a=1&cc=Erased person 7"),
])
def test_the_address_is_found_as_a_whole_address_however_it_is_written(written, redacted):
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name="Wilhelmine Jäger", email=ADDRESS))
    assert person.names(written) and person.names(json.dumps({"body": written}, ensure_ascii=False))
    assert person.redact(written) == redacted


@pytest.mark.parametrize("written, redacted", [
    # character references, which the rendered page shows as the name
    ("Wilhelmine&nbsp;Jäger", "Erased person 7"), ("Wilhelmine J&auml;ger", "Erased person 7"),
    ("Wilhelmine J&#228;ger", "Erased person 7"), ("Wilhelmine J&#xE4;ger", "Erased person 7"),
    ("Wilhelmine Ja&#776;ger", "Erased person 7"), ("J&auml;ger&#44; Wilhelmine", "Erased person 7"),
    # Markdown emphasis between or around the words: the markers stay balanced
    ("Wilhelmine **Jäger**", "**Erased person 7**"), ("*Wilhelmine* Jäger", "*Erased person 7*"),
    ("__Wilhelmine Jäger__", "__Erased person 7__"), ("~~Wilhelmine~~ Jäger", "~~Erased person 7~~"),
    ("**Jäger**, Wilhelmine", "**Erased person 7**"), ("_Wilhelmine_ _Jäger_", "_Erased person 7_"),
    # invisible characters (Default_Ignorable_Code_Point): bidi marks, an invisible separator, a
    # variation selector, the combining grapheme joiner, a tag space; a Hangul filler shows as a blank
    ("Wilhelmine \u200eJäger", "Erased person 7"), ("Wilhelmine\u200f Jäger", "Erased person 7"),
    ("Wilhelmine\u2063 Jäger", "Erased person 7"), ("Wilhelmine\ufe0f Jäger", "Erased person 7"),
    ("Wilhelmine \u034fJäger", "Erased person 7"), ("Wilhelmine \U000e0020Jäger", "Erased person 7"),
    ("Wil\u202ahelmine J\u180bäger", "Erased person 7"), ("Wilhelmine\u3164Jäger", "Erased person 7"),
])
def test_a_name_written_with_references_emphasis_or_invisible_characters_is_found(written, redacted):
    """Found by the second review of issue 16: these forms show the name on the rendered page (or to a
    reader) but survived the erasure."""
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name="Wilhelmine Jäger", email=ADDRESS))
    text = f"Danke an {written} und &lt;alle&gt; &amp; &#42;euch&#42;."
    assert person.names(text) and person.names(json.dumps({"body": text}, ensure_ascii=False))
    # only the mention is replaced: the references elsewhere stay as they were written
    assert person.redact(text) == f"Danke an {redacted} und &lt;alle&gt; &amp; &#42;euch&#42;."


@pytest.mark.parametrize("written", [
    "Wilhelmine J&amp;auml;ger",  # shows "J&auml;ger", literally
    "Wilhelmine&lt;Jäger", "Wilhelmine&#42;Jäger", "Wilhelmine**Jäger**", "Wilhelmine_Jäger",
    "Wilhelmine J&auml;gerin", "Wil\u3164helmine Jäger",  # a Hangul filler inside a word shows as a gap
    "Wilhelmine\u200bJäger",  # joined by an invisible character only: "WilhelmineJäger"
])
def test_a_near_miss_written_with_references_emphasis_or_invisible_characters_stays(written):
    from types import SimpleNamespace

    from app.services.erasure import Person
    person = Person(SimpleNamespace(id=7, name="Wilhelmine Jäger", email=ADDRESS))
    text = f"Danke an {written}."
    assert not person.names(text) and person.redact(text) == text


def test_erasure_keeps_other_addresses_and_replaces_every_written_form_in_texts_pages_and_payloads(world, rec_in):
    """The whole path for the second review's findings 2 and 3: public comments with other people's
    addresses keep their text and payload; a comment naming the person with a character reference or
    emphasis is replaced in its Markdown and in the HTML the page shows, and its payload is blanked."""
    person = services.create_user(ADDRESS, "Wilhelmine Jäger", password=PASSWORD)[0]
    rec = rec_in(world, "steering_review")
    others = ["Mail an tom.wj@example.org bitte", "Mail an wj@example.org.uk bitte", "Mail an wj@example.org.evil.net"]
    kept = [services.create_comment(rec.id, world.member, body).id for body in others]
    forms = ["Mail: wj&#64;example.org", "Dank an Wilhelmine&nbsp;J&auml;ger &amp; &lt;alle&gt;",
             "Dank an Wilhelmine **Jäger**", "Link: https://example.net/?to=wj%40example.org",
             "Dank an Wilhelmine\u200e J\u2063äger"]
    named = [services.create_comment(rec.id, world.member, body).id for body in forms]
    assert "wj@example.org" in db.session.get(Comment, named[0]).body_html  # the page showed the address
    events = audit_count()
    services.erase_user(person.id, world.superuser)
    db.session.expire_all()
    for comment_id, body in zip(kept, others):
        assert db.session.get(Comment, comment_id).body == body
        assert payload("comment.created", comment_id)["body"] == body
    for comment_id in named:
        comment = db.session.get(Comment, comment_id)
        assert f"Erased person {person.id}" in comment.body, comment.body
        for shown in (comment.body, comment.body_html):
            folded = unicodedata.normalize("NFKC", shown).casefold()
            assert "jäger" not in folded and "j&auml;" not in folded and "wj@" not in folded and "wj%40" not in folded
        assert payload("comment.created", comment_id) is None
    comment = db.session.get(Comment, named[1])
    assert comment.body == f"Dank an Erased person {person.id} &amp; &lt;alle&gt;"  # the other references stay
    assert f"<strong>Erased person {person.id}</strong>" in db.session.get(Comment, named[2]).body_html
    assert audit_count() == events + 1 and audit.verify().ok


def test_on_sqlite_the_erased_name_leaves_the_write_ahead_log_at_once(world, rec_in, make_user):
    """Found by the second review of issue 16: while a server held its connections, the erased words stayed
    in the -wal file (written there by the erasure's own index merge) and in the database file until a
    checkpoint; the erasure checkpoints itself now."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no -wal file beside the database")
    person = make_user("Kunigunde Zwirbelmeier")
    rec = rec_in(world, "steering_review", title="Sprechstunde")
    services.create_comment(rec.id, world.member, "Danke an Kunigunde Zwirbelmeier für die Einladung.")
    services.erase_user(person.id, world.superuser)  # the pool keeps its connections open, as a server does
    path = db.engine.url.database
    for name in (path, path + "-wal"):
        try:
            data = open(name, "rb").read()
        except FileNotFoundError:
            continue
        assert b"zwirbelmeier" not in data.lower(), name
