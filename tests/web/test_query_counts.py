"""Pages cost a bounded number of SQL queries, whatever the number of comments or recommendations."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from app import text
from app.extensions import db
from app.models import Comment, Recommendation, RecommendationAuthor, utcnow


@contextmanager
def counted():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def add_comments(rec, authors, count: int) -> None:
    """Volume only: rows straight into the table (the services and the audit are tested elsewhere)."""
    html = text.render("Ein **Beitrag**.")
    first = Comment(recommendation_id=rec.id, author_id=authors[0].id, body="Ein **Beitrag**.", body_html=html)
    db.session.add(first)
    db.session.flush()
    db.session.add_all(
        Comment(recommendation_id=rec.id, author_id=authors[i % len(authors)].id, body="Ein **Beitrag**.",
                body_html=html, parent_id=first.id if i % 3 else None,
                visibility="internal" if i % 10 == 0 else "public", hidden=i % 17 == 0,
                hidden_reason="Regel 2" if i % 17 == 0 else None)
        for i in range(count - 1))
    db.session.commit()


def add_recommendations(world, count: int, start: int) -> None:
    html, now = text.render("Text"), utcnow()
    recs = [Recommendation(process_id=world.process.id, number=start + i, title=f"Empfehlung {i}", body="Text",
                           body_html=html, state="steering_review", version=1, state_entered_at=now,
                           created_at=now, updated_at=now) for i in range(count)]
    db.session.add_all(recs)
    db.session.flush()
    db.session.add_all(RecommendationAuthor(recommendation_id=r.id, user_id=world.author.id, position=0) for r in recs)
    db.session.commit()


def queries_for(browser, url: str) -> int:
    with counted() as statements:
        browser.get(url)
    return len(statements)


def test_the_recommendation_page_costs_the_same_for_5_and_500_comments(world, people, browser, rec_in):
    people(world)
    small, large = rec_in(world, "steering_review", title="Small"), rec_in(world, "steering_review", title="Large")
    authors = [world.member, world.author, world.moderator]
    add_comments(small, authors, 5)
    add_comments(large, authors, 500)
    for user in (None, world.member, world.moderator):
        reader = browser(user)
        base = f"/processes/{world.process.slug}/recommendations/"
        few, many = queries_for(reader, base + str(small.number)), queries_for(reader, base + str(large.number))
        assert few == many, (user, few, many)
        assert "Ein Beitrag" in reader.text
    assert few <= 15


def test_the_process_page_costs_the_same_for_10_and_1000_recommendations(world, people, browser, make_user):
    from tests.conftest import build_world
    people(world)
    big = build_world(make_user, slug="big")
    add_recommendations(world, 10, 1)
    add_recommendations(big, 1000, 1)
    for user in (None, world.author):
        reader = browser(user)
        few = queries_for(reader, f"/processes/{world.process.slug}")
        many = queries_for(reader, "/processes/big")
        assert few == many, (user, few, many)
        assert "1,000 recommendations" in reader.text
        assert queries_for(reader, "/processes/big?page=40") == many
        assert "Empfehlung 780" in reader.text and "Empfehlung 779" not in reader.text  # page 40 starts at the 781st
        # Other orders and searches count the rows they match: one statement more, still flat.
        assert queries_for(reader, "/processes/big?page=40&sort=title") == many + 1
    assert few <= 14  # signed in: the bell's unread count and the follow button read one row each


def test_the_front_page_and_api_list_stay_bounded(world, people, browser, api, make_user):
    people(world)
    add_recommendations(world, 10, 1)
    reader = browser()
    few = queries_for(reader, "/")
    add_recommendations(world, 500, 11)
    assert queries_for(reader, "/") == few
    with counted() as small:
        api.get(f"/processes/{world.process.slug}/recommendations?per_page=10")
    with counted() as large:
        api.get(f"/processes/{world.process.slug}/recommendations?per_page=100")
    assert len(small) == len(large)


def test_a_transition_costs_seven_statements(api, world, rec_in):
    """The token; the recommendation with its process, authors, decision and the caller's roles;
    the update; the audit head and the event; whom to tell (one statement, whatever their number)
    and their notifications (one insert). The answer reads nothing more. PostgreSQL appends
    the event in one call to the server (migration 0006), so six there; SQLite adds its BEGINs."""
    rec = rec_in(world, "in_moderation")
    api.get(f"/recommendations/{rec.id}", world.moderator)  # the token's first use is noted once a minute
    path, body, moderator = f"/recommendations/{rec.id}/transitions", {"trigger": "forward", "version": rec.version}, world.moderator
    moderator.id  # the test's own reads happen before counting
    with counted() as statements:
        response = api.post(path, moderator, json=body)
    assert response.status_code == 200 and response.json["state"] == "steering_review"
    assert response.json["transitions"] == [] and response.json["authors"][0]["id"] == world.author.id
    work = [s for s in statements if not s.startswith("BEGIN")]
    assert len(work) == (6 if db.engine.dialect.name == "postgresql" else 7), "\n".join(s[:90] for s in work)
    assert len(statements) - len(work) <= 2  # the read, then the write (IMMEDIATE); PostgreSQL sends no BEGIN


def test_roles_read_in_a_request_are_read_again_after_a_membership_changes(app, world):
    from app import permissions, services
    from app.roles import process_roles
    with app.test_request_context():
        assert "moderator" not in process_roles(world.member, world.process.id)
        services.grant_role(world.process, world.member, "moderator")
        assert "moderator" in process_roles(world.member, world.process.id)
        services.revoke_role(world.process, world.member, "moderator")
        assert "moderator" not in process_roles(world.member, world.process.id)


def test_a_sessions_page_costs_the_same_with_3_or_30_items(world, people, browser, rec_in):
    """The agenda, its decision forms and the answer templates read in a fixed number of queries."""
    from app import services
    from app.transactions import write_transaction
    from app.models import AgendaItem
    people(world)
    base = rec_in(world, "steering_review")

    def session_with(count: int) -> int:
        meeting = services.create_session(world.process.id, world.administrator, f"{count} Punkte", "2026-03-14")
        with write_transaction() as session:  # volume only: copies of one recommendation's row, straight in
            rec = session.get(Recommendation, base.id)
            for n in range(count):
                copy = Recommendation(process_id=rec.process_id, number=1000 + count * 100 + n, title=f"TOP {n}",
                                      body=rec.body, body_html=rec.body_html, state=rec.state, version=1)
                copy.author_links.append(RecommendationAuthor(user_id=world.author.id, position=0))
                session.add(copy)
                session.flush()
                session.add(AgendaItem(session_id=meeting.id, recommendation_id=copy.id, position=n + 1))
        return meeting.id

    small, large = session_with(3), session_with(30)
    for reader in (browser(), browser(world.administrator)):
        costs = []
        for session_id in (small, large):
            reader.get(f"/sessions/{session_id}")  # warm: the first request reads the user and the workflow
            with counted() as statements:
                page = reader.get(f"/sessions/{session_id}")
            assert "TOP 2" in page.text
            costs.append(len(statements))
        assert costs[0] == costs[1], costs
