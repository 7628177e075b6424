"""Lists count and page from the counts the database keeps per state and block of numbers.

What a reader notices: the totals and the rows of every page are exactly those a full scan
gives, for every kind of reader, filter, direction and page, across block boundaries, and
the counts follow every insert, transition and delete, also in a database that existed
before the counts did.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import func, insert, select

from app import queries, services, text
from app.errors import NoteRequired
from app.extensions import db
from app.models import COUNT_BLOCK, Recommendation, RecommendationAuthor, RecommendationCount, utcnow
from app.roles import process_roles
from app.services import fire

STATES = ["draft", "submitted", "in_moderation", "steering_review", "adopted", "adopted_in_part", "rejected", "withdrawn"]


def bulk(world, first: int, count: int, author) -> None:
    """``count`` recommendations numbered from ``first``, cycling through the workflow's states."""
    html, now = text.render("Text"), utcnow()
    db.session.execute(insert(Recommendation), [
        {"process_id": world.process.id, "number": n, "title": f"Empfehlung {n}", "body": "Text", "body_html": html,
         "state": STATES[n % len(STATES)], "version": 1, "state_entered_at": now, "created_at": now, "updated_at": now}
        for n in range(first, first + count)])
    ids = db.session.scalars(select(Recommendation.id).where(
        Recommendation.process_id == world.process.id, Recommendation.number >= first)).all()
    db.session.execute(insert(RecommendationAuthor), [{"recommendation_id": i, "user_id": author.id, "position": 0} for i in ids])
    db.session.commit()


def kept() -> dict:
    return {(p, s, b): n for p, s, b, n in db.session.execute(select(
        RecommendationCount.process_id, RecommendationCount.state, RecommendationCount.block, RecommendationCount.count))
        if n}


def counted() -> dict:
    block = (Recommendation.number - 1) // COUNT_BLOCK
    rows = db.session.execute(select(Recommendation.process_id, Recommendation.state, block, func.count())
                              .group_by(Recommendation.process_id, Recommendation.state, block))
    return {(p, s, int(b)): n for p, s, b, n in rows}


def test_the_counts_follow_every_insert_transition_and_delete(world, rec_in):
    bulk(world, 990, 30, world.member)  # across the first block boundary
    rec = rec_in(world, "steering_review")
    rec_in(world, "rejected")
    services.create_recommendation(world.process.id, world.author, "Entwurf", "Text")
    assert kept() == counted()

    fire(rec.id, "send_back", world.administrator, "Noch einmal.", rec.version)
    gone = db.session.scalar(select(Recommendation.id).where(Recommendation.number == 995))
    db.session.execute(sa.delete(RecommendationAuthor).where(RecommendationAuthor.recommendation_id == gone))
    db.session.execute(sa.delete(Recommendation).where(Recommendation.id == gone))
    db.session.commit()
    assert kept() == counted()
    assert kept()[(world.process.id, "in_moderation", 0)] >= 1


def test_a_failed_transition_leaves_the_counts_as_they_were(world, rec_in):
    rec = rec_in(world, "steering_review")
    before = kept()
    with pytest.raises(NoteRequired):
        fire(rec.id, "adopt", world.administrator, None, rec.version)  # adopting needs a note
    assert kept() == before == counted()


@pytest.fixture
def long_list(world):
    """2,600 recommendations in every state over three blocks by the coauthor; the author cowrote every fifth."""
    bulk(world, 1, 2600, world.coauthor)
    fifth = select(Recommendation.id).where(Recommendation.process_id == world.process.id, Recommendation.number % 5 == 0)
    db.session.execute(insert(RecommendationAuthor).from_select(
        ["recommendation_id", "user_id", "position"], select(fifth.subquery().c.id, sa.literal(world.author.id), sa.literal(1))))
    db.session.commit()
    return world


@pytest.mark.parametrize("reader", [None, "author", "coauthor", "member", "moderator", "outsider"])
def test_every_page_is_what_a_full_scan_gives(long_list, reader):
    world = long_list
    user = getattr(world, reader) if reader else None
    roles = process_roles(user, world.process.id)
    counts = queries.visible_counts(user, world.process, roles)
    for state in (None, "draft", "adopted", "steering_review"):
        condition = queries.visible(user, world.process, roles)
        if state:
            condition = sa.and_(condition, Recommendation.state == state)
        everything = db.session.scalars(select(Recommendation.number).where(condition).order_by(Recommendation.number)).all()
        assert queries.total(counts, state) == len(everything), (reader, state)
        for per_page in (7, 20, 100):
            for offset in sorted({0, per_page, len(everything) // 2, 990, 1000, len(everything) - 3, len(everything)}):
                offset -= offset % per_page
                for descending in (False, True):
                    page = queries.visible_page(user, world.process, roles, counts, state, offset, per_page, descending)
                    expected = (everything[::-1] if descending else everything)[offset:offset + per_page]
                    assert [r.number for r in page] == expected, (reader, state, per_page, offset, descending)


def test_the_author_sees_their_own_drafts_counted_and_listed(long_list):
    world = long_list
    counts = queries.counts_by_state(queries.visible_counts(world.author, world.process))
    member_counts = queries.counts_by_state(queries.visible_counts(world.member, world.process))
    own_drafts = sum(1 for n in range(1, 2601) if n % 5 == 0 and STATES[n % len(STATES)] == "draft")
    assert counts.get("draft", 0) == own_drafts > 0
    assert "draft" not in member_counts  # members see no one's drafts but their own


def test_the_api_answers_a_late_page_and_a_filtered_page(long_list, client):
    world = long_list
    public = [n for n in range(1, 2601) if STATES[n % len(STATES)] in ("steering_review", "adopted", "adopted_in_part", "rejected")]
    answer = client.get(f"/api/v1/processes/{world.process.slug}/recommendations?page=74&per_page=20").get_json()
    assert answer["total"] == len(public)
    assert [r["number"] for r in answer["items"]] == public[73 * 20:74 * 20]
    adopted = [n for n in public if STATES[n % len(STATES)] == "adopted"]
    answer = client.get(f"/api/v1/processes/{world.process.slug}/recommendations?state=adopted&page=4&per_page=100").get_json()
    assert answer["total"] == len(adopted)
    assert [r["number"] for r in answer["items"]] == adopted[300:400]
    past_the_end = client.get(f"/api/v1/processes/{world.process.slug}/recommendations?page=999").get_json()
    assert past_the_end["items"] == [] and past_the_end["total"] == len(public)


def test_the_web_list_pages_backwards_and_forwards(long_list, client):
    world = long_list
    public = [n for n in range(1, 2601) if STATES[n % len(STATES)] in ("steering_review", "adopted", "adopted_in_part", "rejected")]
    page = client.get(f"/processes/{world.process.slug}?sort=-number&page=3").get_data(as_text=True)
    newest_first = public[::-1][40:60]
    assert f"Empfehlung {newest_first[0]}<" in page and f"Empfehlung {newest_first[-1]}<" in page
    assert f"Empfehlung {public[::-1][39]}<" not in page and f"Empfehlung {public[::-1][60]}<" not in page


def test_an_existing_database_gets_its_counts_when_it_upgrades(app, world):
    from flask_migrate import downgrade, upgrade

    # Read before the schema goes back: the User model knows columns that revision 0004 lacks.
    author = SimpleNamespace(id=world.member.id)
    db.session.commit()
    downgrade(revision="0004")
    try:
        bulk(world, 1, 1500, author)
        assert not sa.inspect(db.engine).has_table("recommendation_counts")
    finally:
        db.session.commit()
        upgrade()
    assert kept() == counted() and sum(kept().values()) == 1500
