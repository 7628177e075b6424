"""Found by the review of issue 18: co-authors who cannot take a text away from its moderator or decider,
and page titles without markup."""
from __future__ import annotations

import re

import pytest

from app import services
from app.errors import ServiceError


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
