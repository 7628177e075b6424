"""The superusers' outbox page: statuses and kinds in words, a filter for mails being sent, and a
filter list without bullets on a phone (review of issue 15)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.config import PACKAGE_ROOT
from app.extensions import db
from app.models import Mail
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
