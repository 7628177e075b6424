"""The superusers' outbox page: statuses and kinds in words, a filter for mails being sent, and a
filter list without bullets on a phone (review of issue 15)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.config import PACKAGE_ROOT
from app.extensions import db
from app.models import Mail, utcnow
from app.services import notifications
from tests.web.browser import Browser


def queue_some(world):
    for n in range(3):
        rec = services.create_recommendation(world.process.id, world.author, f"R{n}", "B")
        services.fire(rec.id, "submit", world.author, None, rec.version)
    notifications.route_pass()
    claimed = notifications.claim_mails(1)  # one is being sent
    ids = db.session.scalars(sa.select(Mail.id).order_by(Mail.id)).all()
    notifications.finish_mails([(ids[-1], "failed", "550 no such mailbox", None)])
    return claimed[0]


def rows(page) -> list[str]:
    return [re.sub(r"<[^>]+>", "|", row) for row in re.findall(r"<tr><td>\d+</td>.*?</tr>", page.text)]


def test_the_outbox_says_statuses_and_kinds_in_words_and_filters_what_is_being_sent(world, people, app):
    people(world)
    sending = queue_some(world)
    admin = Browser(app).login(world.superuser)
    page = admin.get("/admin/outbox")
    shown = rows(page)
    assert len(shown) == 3
    assert any("|being sent|" in row for row in shown) and any("|queued|" in row for row in shown)
    assert any("|failed|" in row for row in shown)
    assert all("|A recommendation waits for a step of mine|" in row for row in shown)
    for raw in ("|pending|", "|sending|", "|your_turn|"):
        assert not any(raw in row for row in shown), raw
    # the filter for mails being sent
    assert 'href="/admin/outbox?status=sending"' in page.text
    page = admin.get("/admin/outbox?status=sending")
    [row] = rows(page)
    assert f"|{sending}|" in row and "|being sent|" in row
    assert 'href="/admin/outbox?status=sending" aria-current="page"' in page.text
    # in German
    admin.client.set_cookie("ratschlag_language", "de", domain="ratschlag.test")
    page = admin.get("/admin/outbox")
    assert any("|wird gesendet|" in row for row in rows(page)) and any("|wartend|" in row for row in rows(page))


def test_an_unknown_status_is_said_and_lists_nothing(world, people, app):
    people(world)
    queue_some(world)
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/outbox?status=bogus", status=400)
    assert "Unknown status; choose one of: queued, being sent, sent, failed, skipped." in admin.text
    assert rows(admin.page) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 3  # nothing changed


def test_the_status_filter_is_a_list_without_bullets(world, people, app):
    """At 360 px the filter links wrap; their list's bullets sat on the link before. The filter is the
    site's tab list now (no bullets), and a list of class ``filters`` has none either."""
    people(world)
    admin = Browser(app).login(world.superuser)
    page = admin.get("/admin/outbox")
    assert re.search(r'<nav class="filters"[^>]*>\s*<ul class="tabs">', page.text)
    css = (PACKAGE_ROOT / "static" / "style.css").read_text()
    tabs = re.search(r"\n\.tabs \{[^}]*\}", css).group(0)
    assert "list-style: none" in tabs and "padding: 0" in tabs
    assert re.search(r"ul\.filters, \.filters ul \{ list-style: none; padding-left: 0; \}", css)


def mail_row(mail_id: int):
    db.session.rollback()
    return db.session.get(Mail, mail_id)


def test_the_outbox_shows_when_each_mail_was_made_sent_and_tried_next(world, people, app, work, inbox):
    from flask_babel import force_locale

    from app.web.dates import datetimeformat

    people(world)
    queue_some(world)
    rec = services.create_recommendation(world.process.id, world.author, "Later", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    notifications.route_pass()
    later = db.session.scalars(sa.select(Mail).where(Mail.status == "pending")).all()
    pending_id = max(m.id for m in later)
    work()  # sends the queued ones; the one being sent and the failed one stay
    admin = Browser(app).login(world.superuser)
    page = admin.get("/admin/outbox")
    mails = {m.id: m for m in db.session.scalars(sa.select(Mail))}
    with app.test_request_context(), force_locale("en"):
        said = {m.id: (datetimeformat(m.created_at, "short"), m.sent_at and datetimeformat(m.sent_at, "short"))
                for m in mails.values()}
    for row in rows(page):
        mail_id = int(row.split("|")[2])
        mail = mails[mail_id]
        created, sent = said[mail_id]
        assert f"|{created}|" in row, row
        if mail.status == "sent":
            assert f"|{sent}|" in row
        assert ("Send again" in row) == (mail.status == "failed"), row
    assert f'<time datetime="{mails[pending_id].created_at.isoformat()}Z">' in page.text
    # a queued mail says when it is tried next
    from datetime import datetime

    from app.transactions import write_transaction
    with write_transaction() as session:
        mail = session.get(Mail, pending_id)
        mail.status, mail.sent_at, mail.next_attempt_at = "pending", None, datetime(2031, 3, 4, 5, 6)
    page = admin.get("/admin/outbox?status=pending")
    [row] = rows(page)
    assert row.endswith(f"|{said[pending_id][0]}||||||Mar 4, 2031, 5:06\u202fAM|||||")  # created, not sent, next attempt
    admin.client.set_cookie("ratschlag_language", "de", domain="ratschlag.test")
    page = admin.get("/admin/outbox?status=failed")
    assert "Erneut senden" in page.text and "Nächster Versuch" in page.text and "Alle fehlgeschlagenen E-Mails erneut senden" in page.text


def test_a_failed_mail_is_sent_again_with_its_message_id(world, people, app, work, inbox):
    people(world)
    queue_some(world)
    failed = db.session.scalar(sa.select(Mail).where(Mail.status == "failed"))
    message_id, attempts_before = failed.message_id, failed.attempts
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/outbox?status=failed")
    admin.post(f"/admin/outbox/{failed.id}/requeue", {"status": "failed"}, status=200)
    assert admin.redirected_to == "/admin/outbox" and f"E-mail #{failed.id} is queued again" in admin.text
    mail = mail_row(failed.id)
    assert (mail.status, mail.attempts, mail.message_id) == ("pending", 0, message_id)
    assert attempts_before >= 0 and mail.next_attempt_at <= utcnow()
    work()
    assert mail_row(failed.id).status == "sent"
    assert message_id in [r.message["Message-ID"] for r in inbox.received]


def test_sending_again_what_did_not_fail_is_refused_and_changes_nothing(world, people, app):
    people(world)
    sending_id = queue_some(world)
    pending = db.session.scalar(sa.select(Mail).where(Mail.status == "pending"))
    failed = db.session.scalar(sa.select(Mail).where(Mail.status == "failed"))
    notifications.finish_mails([(pending.id, "skipped", None, None)])
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/outbox")

    def state():
        db.session.rollback()
        return [(m.id, m.status, m.attempts, m.next_attempt_at, m.message_id) for m in db.session.scalars(sa.select(Mail).order_by(Mail.id))]

    before = state()
    admin.post("/admin/outbox/99999/requeue", {}, status=200)
    assert "There is no e-mail #99999." in admin.text
    # A number too large for any row names no other mail (the URL's converter makes it 0).
    admin.post("/admin/outbox/99999999999999999999999/requeue", {}, status=200)
    assert "There is no such e-mail." in admin.text and "#0" not in admin.text
    admin.post("/admin/outbox/0/requeue", {}, status=200)
    assert "There is no such e-mail." in admin.text and "#0" not in admin.text
    admin.client.set_cookie("ratschlag_language", "de", domain="ratschlag.test")
    admin.post("/admin/outbox/99999999999999999999999/requeue", {}, status=200)
    assert "Diese E-Mail gibt es nicht." in admin.text
    admin.client.set_cookie("ratschlag_language", "en", domain="ratschlag.test")
    for mail_id in (sending_id, pending.id):
        admin.post(f"/admin/outbox/{mail_id}/requeue", {}, status=200)
        assert f"E-mail #{mail_id} was not sent again: only failed e-mails can be." in admin.text
    assert admin.client.post("/admin/outbox/abc/requeue", data={"csrf_token": admin.token()}).status_code == 404
    # without the CSRF token: refused
    assert admin.client.post(f"/admin/outbox/{failed.id}/requeue").status_code == 400
    assert admin.client.post("/admin/outbox/requeue-failed").status_code == 400
    assert state() == before
    # all failed ones at once; then there is none left to send again
    admin.post("/admin/outbox/requeue-failed", {}, status=200)
    assert "1 failed e-mail is queued again." in admin.text
    assert mail_row(failed.id).status == "pending" and mail_row(failed.id).message_id == failed.message_id
    after = state()
    admin.post("/admin/outbox/requeue-failed", {}, status=200)
    assert "No e-mail has failed; nothing was queued again." in admin.text
    assert state() == after
