"""Erasure reaches every place a person's name or address is kept (docs/auditing.md, "Erasure"),
found by the review of issue 16: a process's contact, the steering round's sessions (attendance,
notes, an agenda item's note), follow-up reports, public submissions still waiting for their
confirmation, the outbox, and the mails written as files when no SMTP server is configured."""
from __future__ import annotations

import json
import secrets
from datetime import timedelta

import sqlalchemy as sa

from app import audit, services
from app.extensions import db
from app.models import (AgendaItem, AnswerTemplate, Follow, FollowUp, Mail, Notification, NotificationSetting, Process, Recommendation,
                        SteeringSession, Submission, User, utcnow)
from tests.test_audit_v2 import cli
from tests.test_erasure import text_values
from tests.web.browser import PASSWORD

NAME, EMAIL = "Wilhelmine Quast", "W.Quast@Example.org"
SECRETS = ("wilhelmine", "quast")


def _version(rec_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Recommendation, rec_id).version


def _submission(user: User, world, **texts) -> Submission:
    """A public submission waiting for its confirmation, as ``intake.submit`` stores it."""
    now = utcnow()
    row = Submission(process_id=world.process.id, user_id=user.id, nonce=secrets.token_hex(16),
                     status_nonce=secrets.token_hex(16), status_hash=secrets.token_hex(32),
                     token_hash=secrets.token_hex(32), created_at=now, expires_at=now + timedelta(hours=48), **texts)
    db.session.add(row)
    db.session.flush()
    db.session.add(Mail(user_id=user.id, kind="intake_confirmation", submission_id=row.id,
                        message_id=f"<intake-{row.id}@ratschlag>"))
    db.session.commit()
    return row


def test_erasure_leaves_the_name_nowhere_sessions_follow_ups_intake_outbox_and_mail_files(
        world, people, rec_in, make_user, runner, app, tmp_path):
    from app.notify import worker
    app.config["SMTP_URL"] = ""  # the demo's way: every mail is written as a file
    app.config["MAIL_DIR"] = str(tmp_path / "mail")
    app.config["MAIL_HTML"] = "1"  # a text and an HTML part: both are redacted
    people(world)
    person = services.create_user(EMAIL, NAME, password=PASSWORD)[0]
    admin = world.administrator
    services.update_overview(world.process.id, admin, contact=f"{NAME}, Rathaus Zimmer 12",
                             description=f"Fragen beantwortet **{NAME}**.",
                             links=[{"title": f"Sprechstunde bei {NAME}", "url": "https://example.org/sprechstunde"}])
    services.set_answer_template(world.process.id, admin, "rejected", f"Abgelehnt. Rückfragen an {NAME} …")
    rec = rec_in(world, "steering_review", title="Früh informieren")
    meeting = services.create_session(world.process.id, admin, "3. Sitzung", "2026-03-14T18:30",
                                      place="Rathaus", participants=f"A. Admin, {NAME}")
    services.update_minutes(meeting.id, admin, notes=f"{NAME} berichtet aus dem Beirat.")
    services.add_to_agenda(meeting.id, admin, rec.id)
    services.decide(meeting.id, admin, rec.id, "adopt", f"Angenommen, wie {NAME} vorschlug.", _version(rec.id))
    services.close_session(meeting.id, admin)
    report = services.record_follow_up(rec.id, admin, "planned", f"*{NAME}* lädt zum Ortstermin ein.")
    # public intake: the person's own submission waits for its confirmation; someone else's names them
    own = _submission(person, world, name=NAME, title="Mein Anliegen", body="Bitte um Rückruf.")
    resident = make_user("Other Resident")
    other = _submission(resident, world, name="Other Resident", title="Laterne defekt",
                        body=f"Wie {NAME} schon sagte: die Laterne ist dunkel.")
    # the outbox: a mail to the person (a password reset), and mails to others that quote them
    services.request_password_reset(EMAIL)
    quoted = rec_in(world, "draft", title="Bänke")
    services.fire(quoted.id, "submit", world.author, f"Abgestimmt mit {NAME}.", quoted.version)
    assert worker.run_once()["sent"] >= 3
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert any(EMAIL.lower() in f.read_text().lower() for f in files)  # the mail to them
    quoting = [f for f in files if NAME in f.read_bytes().decode("utf-8", "replace") and EMAIL.lower()
               not in f.read_text().lower()]
    assert quoting, "a mail to someone else quotes the person"
    for_them = db.session.scalars(sa.select(Mail.id).where(Mail.user_id == person.id)).all()
    assert for_them
    db.session.add(Notification(user_id=person.id, kind="authored", event="comment", recommendation_id=rec.id,
                                data=json.dumps({"note": "x"})))
    db.session.add(Follow(user_id=person.id, recommendation_id=quoted.id))
    db.session.add(NotificationSetting(user_id=person.id, kind="followed", mode="immediate"))
    db.session.commit()
    head_before, own_id = audit.head()[0], own.id

    result = cli(runner, "users", "erase", EMAIL, "--yes")
    assert result.exit_code == 0, result.output
    pseudonym = f"Erased person {person.id}"
    db.session.expire_all()

    # the tables: the name is the pseudonym now; Markdown rendered again
    process = db.session.get(Process, world.process.id)
    assert process.contact == f"{pseudonym}, Rathaus Zimmer 12"
    assert process.links == [{"title": f"Sprechstunde bei {pseudonym}", "url": "https://example.org/sprechstunde"}]
    template = db.session.scalars(sa.select(AnswerTemplate)).one()
    assert template.body == f"Abgelehnt. Rückfragen an {pseudonym} …"
    assert process.description_html == f"<p>Fragen beantwortet <strong>{pseudonym}</strong>.</p>"
    closed = db.session.get(SteeringSession, meeting.id)
    assert (closed.participants, closed.notes) == (f"A. Admin, {pseudonym}", f"{pseudonym} berichtet aus dem Beirat.")
    item = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.session_id == meeting.id)).one()
    assert item.note == f"Angenommen, wie {pseudonym} vorschlug."
    [frozen] = json.loads(closed.minutes_json)  # the minutes as shown at closing
    assert frozen["note"] == f"Angenommen, wie {pseudonym} vorschlug." and frozen["title"] == "Früh informieren"
    follow_up = db.session.get(FollowUp, report.id)
    assert follow_up.body == f"*{pseudonym}* lädt zum Ortstermin ein."
    assert follow_up.body_html == f"<p><em>{pseudonym}</em> lädt zum Ortstermin ein.</p>"
    # their pending submission is gone with its mail; the other one stays, the mention replaced
    assert db.session.get(Submission, own_id) is None
    kept = db.session.get(Submission, other.id)
    assert kept.body == f"Wie {pseudonym} schon sagte: die Laterne ist dunkel." and kept.title == "Laterne defekt"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail).where(Mail.submission_id == other.id)) == 1
    # the outbox holds nothing for them any more
    assert db.session.scalars(sa.select(Mail.id).where(Mail.user_id == person.id)).all() == []
    assert db.session.scalars(sa.select(Notification.id).where(Notification.user_id == person.id)).all() == []
    for model in (Follow, NotificationSetting):  # nothing more is sent to them, nor kept of their interests
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.user_id == person.id)) == 0
    erased = json.loads(db.session.scalars(sa.select(sa.text("data")).select_from(sa.text("audit_events"))
                                           .where(sa.text("action = 'user.erased'"))).one())
    assert erased["submissions_withdrawn"] == 1
    assert erased["redacted"]["process"] == [world.process.id] and erased["redacted"]["session"] == [meeting.id]
    assert erased["redacted"]["follow_up"] == [report.id] and erased["redacted"]["submission"] == [other.id]

    # nowhere in the database ...
    leaks = [(t, c, v[:80]) for t, c, v in text_values() if any(s in v.lower() for s in SECRETS)]
    assert leaks == []
    # ... nor in the mail files: theirs deleted, the others' redacted and still readable mails
    left = sorted((tmp_path / "mail").glob("*.eml"))
    assert not any(f.name.startswith(f"{mail_id:08d}-") for f in left for mail_id in for_them)
    assert len(left) == len(files) - len(for_them)
    import email
    from email import policy

    def said(path) -> str:  # every header and text part, decoded
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        return "\n".join([f"{k}: {v}" for k, v in message.items()] + [
            part.get_content() for part in message.walk() if part.get_content_maintype() == "text"])
    assert [f.name for f in left if any(s in said(f).lower() for s in SECRETS)] == []
    assert any(NAME in said(f) for f in quoting) is False
    for path in quoting:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert pseudonym in message.get_body(("plain",)).get_content()
        assert pseudonym in message.get_body(("html",)).get_content()
        unsubscribe = [line for line in path.read_bytes().split(b"\r\n") if line.startswith(b"List-Unsubscribe:")]
        assert unsubscribe and all(b"=?" not in line and b"/unsubscribe/" in line for line in unsubscribe)  # literal
    # the chain and the minutes' anchor still verify
    assert audit.head()[0] == head_before + 1
    verify = cli(runner, "audit", "verify")
    assert verify.exit_code == 0 and "(1 heads in closed minutes checked)" in verify.stdout
    assert cli(runner, "audit", "verify", "--deep").exit_code == 0


def test_a_mail_file_that_cannot_be_read_is_named_for_the_operator(world, runner, app, tmp_path):
    app.config["MAIL_DIR"] = str(tmp_path / "mail")
    (tmp_path / "mail" / "00000999-digest.eml").mkdir(parents=True)  # not a file: cannot be read
    written = tmp_path / "mail" / "00001000-reply.eml"
    written.write_text(f"To: {NAME} <{EMAIL}>\nSubject: Hallo\n\nText\n")
    services.create_user(EMAIL, NAME, password=PASSWORD)
    result = cli(runner, "users", "erase", EMAIL, "--yes")
    assert result.exit_code == 0, result.output  # the erasure is done; the operator is told what is left
    assert result.stderr.strip() == (f"The mail file {tmp_path / 'mail' / '00000999-digest.eml'} could not be checked "
                                     "or changed: remove it by hand if it names the person.")
    assert not written.exists()  # addressed to them
