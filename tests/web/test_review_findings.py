"""Found by the review of issue 18: a note kept across an ended sign-in, co-authors who cannot take a text away from its moderator or decider, and page titles without markup."""
from __future__ import annotations

import re

import pytest

from app import services
from app.errors import ServiceError
from tests.conftest import audit_count


def test_a_moderators_note_on_a_non_public_item_survives_a_sign_in_that_ended(world, people, browser, rec_in):
    """README: 'A form sent after the session ended ... keeps its text'. On a submitted item (not public)
    the transition view answers 404 to the signed-out person before it keeps anything."""
    people(world)
    rec = rec_in(world, "submitted")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    mod = browser(world.moderator)
    mod.get(page)
    token = mod.token()
    services.sign_out_everywhere(world.moderator.id)  # the sign-in ends on the server, the cookie stays
    events = audit_count()
    answer = mod.client.post(f"{page}/transition", data={"csrf_token": token, "trigger": "start_moderation",
                                                         "note": "Sorgfältig getippte Notiz.", "version": rec.version})
    assert audit_count() == events
    assert answer.status_code == 303, answer.status_code  # reviewed commit: 404, the note is gone
    assert answer.headers["Location"].startswith("/login?next=")


def test_an_author_cannot_make_the_steering_round_a_co_author(world, rec_in):
    """Separation of duties: authors never decide their own text. Inviting the process's administrator as a
    co-author (no consent asked) silently removes their power to decide it."""
    rec = rec_in(world, "draft")
    with pytest.raises(ServiceError):
        services.add_author(rec.id, world.author, world.administrator)


def test_the_drafting_page_title_holds_no_markup(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "draft")
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}/edit")
    title = re.search(r"<title>(.*?)</title>", author.page.text, re.S).group(1)
    assert "<script" not in title, title
