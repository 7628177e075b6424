"""Found by the second review of issue 15: a reset or invitation mail whose link can no longer be
used is skipped, not sent (also after *Send again*), and a mail written into a file keeps its
``List-Unsubscribe`` link literal."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Mail, UserToken, utcnow
from app.services import passwords
from app.transactions import write_transaction
from tests.web.browser import Browser


def mail_of(user_id: int, kind: str) -> Mail:
    db.session.rollback()
    return db.session.scalars(sa.select(Mail).where(Mail.user_id == user_id, Mail.kind == kind).order_by(Mail.id)).all()


def token_of(user_id: int, purpose: str) -> UserToken:
    db.session.rollback()
    return db.session.scalars(
        sa.select(UserToken).where(UserToken.user_id == user_id, UserToken.purpose == purpose).order_by(UserToken.id.desc())
    ).first()


def test_a_reset_mail_sent_again_after_its_link_was_used_is_skipped(world, people, app, inbox, work):
    people(world)
    inbox.refuse[world.member.email] = "550 no such mailbox"
    services.request_password_reset(world.member.email)
    work()
    [mail] = mail_of(world.member.id, "password_reset")
    assert mail.status == "failed" and inbox.received == []
    del inbox.refuse[world.member.email]
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/outbox?status=failed")
    admin.post(f"/admin/outbox/{mail.id}/requeue", {}, status=200)
    assert f"E-mail #{mail.id} is queued again" in admin.text
    # Meanwhile the person used the link (its secret came some other way: a test knows it).
    path = f"/password/{passwords.link_secret(token_of(world.member.id, 'password_reset'))}"
    person = Browser(app)
    person.get(path)
    person.post(path, {"new": "another-long-password"}, status=200)
    assert person.client.get(path).status_code == 404
    assert work()["skipped"] == 1
    [mail] = mail_of(world.member.id, "password_reset")
    assert mail.status == "skipped" and inbox.received == []  # no mail with a dead link arrives
    admin.get("/admin/outbox?status=skipped")
    assert str(mail.id) in admin.text


def test_reset_and_invitation_mails_with_replaced_or_expired_links_are_skipped(world, people, app, inbox, work):
    people(world)
    # Replaced: a second link (the pause has passed) ends the first; only the mail of the second goes out.
    services.request_password_reset(world.member.email)
    with write_transaction() as session:
        for row in session.scalars(sa.select(UserToken)):
            row.created_at -= passwords.RESET_PAUSE
    services.request_password_reset(world.member.email)
    # Expired: an invitation whose seven days are over before the worker gets to it.
    guest = services.invite_user("gast@example.org", "Gast", actor=world.superuser)
    with write_transaction() as session:
        session.get(UserToken, token_of(guest.id, "invitation").id).expires_at = utcnow() - timedelta(seconds=1)
    # And one that is still good, to show good ones still go out.
    fresh = services.invite_user("neu@example.org", "Neu", actor=world.superuser)
    work()
    first, second = mail_of(world.member.id, "password_reset")
    assert (first.status, second.status) == ("skipped", "sent")
    assert [m.status for m in mail_of(guest.id, "invitation")] == ["skipped"]
    assert [m.status for m in mail_of(fresh.id, "invitation")] == ["sent"]
    assert sorted(to for r in inbox.received for to in r.recipients) == sorted(["neu@example.org", world.member.email])
    [reset] = inbox.to(world.member.email)
    link = re.search(r"https://ratschlag\.example\.org(/password/[0-9a-f]+)", reset.text).group(1)
    assert Browser(app).get(link).status_code == 200  # the mail that arrived carries the link that works


def test_a_mail_written_into_a_file_keeps_its_unsubscribe_link_literal(world, app, tmp_path, work):
    app.config["SMTP_URL"] = ""
    app.config["MAIL_DIR"] = str(tmp_path / "mail")
    app.config["BASE_URL"] = "https://beteiligung.bezirk-mitte.example.org/ratschlag"  # long enough to fold
    rec = services.create_recommendation(world.process.id, world.author, "Grüße aus dem Kiez", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    assert work()["sent"] == 1
    [written] = list((tmp_path / "mail").glob("*.eml"))
    raw = written.read_bytes()
    [line] = [line for line in raw.split(b"\r\n") if line.startswith(b"List-Unsubscribe:")]
    assert re.fullmatch(
        rb"List-Unsubscribe: <https://beteiligung\.bezirk-mitte\.example\.org/ratschlag/unsubscribe/[\w.-]+>", line
    ), line
    assert b"=?utf-8?" not in raw  # nothing RFC 2047-encoded: the file is UTF-8, as over SMTP
    assert "Grüße aus dem Kiez".encode() in raw
