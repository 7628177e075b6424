"""Full-text search (app/search.py, migration 0017): titles, texts and comments across processes,
only what the reader may open, on SQLite (FTS5) and PostgreSQL (tsvector, German stemming)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st
from alembic.migration import MigrationContext
from alembic.operations import Operations

from app import search, services
from app.extensions import db
from tests.web.browser import Browser

ROLES = ("anonymous", "outsider", "member", "author", "coauthor", "moderator", "administrator", "superuser")
MIGRATION = next((Path(__file__).resolve().parent.parent / "app" / "migrations" / "versions").glob("*_full_text_search.py"))


def backend() -> str:
    return db.session.get_bind().dialect.name


def found(user, query: str, process=None) -> list[str]:
    db.session.rollback()
    return [hit.recommendation.title for hit in search.search(user, query, process=process).hits]


@pytest.fixture
def corpus(world, rec_in, app):
    """A draft only its author and the moderators see, a public recommendation with a public,
    an internal and a hidden comment, and a draft in another process."""
    draft = services.create_recommendation(world.process.id, world.author, "Entwurf", "Ein Zebrastreifen vor der Schule.")
    public = rec_in(world, "steering_review", title="Ein Brunnen am Markt", body="Trinkwasser für alle.")
    services.create_comment(public.id, world.member, "Gern mit einer Kastanienallee daneben.")
    services.create_comment(public.id, world.moderator, "Laternenmast prüfen lassen.", visibility="internal")
    hidden = services.create_comment(public.id, world.member, "Die Mülltonne ist voll.")
    services.hide_comment(hidden.id, world.moderator, "Off topic")
    other = services.create_recommendation(world.other_process.id, world.outsider, "Fahrradweg", "Ein sicherer Fahrradweg zum Markt.")
    services.grant_role(world.other_process, world.moderator, "moderator")  # sees both drafts
    return {"draft": draft, "public": public, "other": other}


WHO_FINDS = {
    "Zebrastreifen": {"author", "moderator"},  # the draft: visible_to [author, moderator]
    "Brunnen": set(ROLES),  # a title
    "Trinkwasser": set(ROLES),  # a text
    "Kastanienallee": set(ROLES),  # a public comment
    "Laternenmast": {"moderator", "administrator"},  # an internal note
    "Mülltonne": {"moderator"},  # a hidden comment's text
}


@pytest.mark.parametrize("role", ROLES)
def test_a_reader_finds_only_what_they_may_open(world, corpus, role):
    user = world.by_role(role)
    for word, finders in WHO_FINDS.items():
        hits = found(user, word)
        assert bool(hits) == (role in finders), (role, word, hits)


@pytest.mark.parametrize("role", ROLES)
def test_the_search_page_and_api_show_the_same_as_the_service(world, corpus, people, app, api, token, role):
    people(world)
    user = world.by_role(role)
    browser = Browser(app) if user is None else Browser(app).login(user)
    for word, finders in WHO_FINDS.items():
        page = browser.client.get("/search", query_string={"q": word})
        assert page.status_code == 200
        shows = "Ein Brunnen am Markt" in page.text or "Entwurf" in page.text
        assert shows == (role in finders), (role, word)
        if role not in finders:  # not even quoted in an excerpt
            main = page.text[page.text.index("<main"):page.text.index("</main>")]
            assert word not in main.replace(f'value="{word}"', ""), (role, word)
        answer = api.client.get("/api/v1/search", query_string={"q": word},
                                headers={"Authorization": f"Bearer {token(user)}"} if user else {})
        assert answer.status_code == 200
        assert (answer.json["total"] > 0) == (role in finders), (role, word)


def test_hits_across_processes_with_excerpts_and_links(world, corpus, app):
    hits = search.search(world.moderator, "Markt").hits
    assert {hit.recommendation.title for hit in hits} >= {"Ein Brunnen am Markt", "Fahrradweg"}
    assert {hit.recommendation.process_id for hit in hits} == {world.process.id, world.other_process.id}
    page = Browser(app).client.get("/search", query_string={"q": "kastanienallee"}).text
    assert "found in a comment" in page
    assert "<mark>Kastanienallee</mark>" in page
    assert "#comment-" in page
    # The header of every page offers the search.
    assert 'action="/search"' in Browser(app).client.get("/").text


def test_the_process_page_searches_texts_and_comments_of_that_process_only(world, corpus, app):
    visitor = Browser(app)
    slug = world.process.slug
    assert "1 recommendation" in visitor.client.get(f"/processes/{slug}", query_string={"q": "Trinkwasser"}).text
    assert "1 recommendation" in visitor.client.get(f"/processes/{slug}", query_string={"q": "kastanienallee"}).text
    assert "0 recommendations" in visitor.client.get(f"/processes/{slug}", query_string={"q": "Fahrradweg"}).text
    assert "0 recommendations" in visitor.client.get(f"/processes/{slug}", query_string={"q": "Laternenmast"}).text
    assert found(world.moderator, "Fahrradweg", world.other_process) == ["Fahrradweg"]
    assert found(world.moderator, "Fahrradweg", world.process) == []
    assert found(world.moderator, "Fahrradweg") == ["Fahrradweg"]


def test_the_index_follows_edits_hiding_and_deletion(world, corpus, app):
    rec = corpus["draft"]
    services.update_recommendation(rec.id, world.author, rec.version, body="Eine Ampel vor der Schule.")
    assert found(world.author, "Zebrastreifen") == []
    assert found(world.author, "Ampel") == ["Entwurf"]
    comment = services.create_comment(corpus["public"].id, world.member, "Ein Pavillon wäre schön.")
    assert found(None, "Pavillon") == ["Ein Brunnen am Markt"]
    services.hide_comment(comment.id, world.moderator, "Doppelt")
    assert found(None, "Pavillon") == []
    assert found(world.moderator, "Pavillon") == ["Ein Brunnen am Markt"]


def test_german_stemming_on_postgresql_prefixes_and_accents_on_sqlite(world, rec_in, app):
    rec_in(world, "steering_review", title="Neuer Spielplatz", body="Mehr Bäume im Park.")
    rec_in(world, "steering_review", title="Alte Spielplätze", body="Sanieren.")
    assert found(None, "Spielplatz") == found(None, "spielplatz")
    if backend() == "postgresql":
        # Stemmed: the plural finds the singular and the other way round.
        assert set(found(None, "Spielplätze")) == {"Neuer Spielplatz", "Alte Spielplätze"}
        assert set(found(None, "Spielplatz")) == {"Neuer Spielplatz", "Alte Spielplätze"}
        assert found(None, "Baum") == ["Neuer Spielplatz"]
    else:
        # No stemming: a word is a prefix, case and accents folded ("Spielplatz" finds "Spielplätze").
        assert set(found(None, "Spielplatz")) == {"Neuer Spielplatz", "Alte Spielplätze"}
        assert found(None, "Spielplätze") == ["Alte Spielplätze"]
        assert found(None, "Baume") == ["Neuer Spielplatz"]
        assert found(None, "spielpl") != []
    assert found(None, "Spielplatz Park") == ["Neuer Spielplatz"]  # every word must occur


HOSTILE = [
    '"', '""', '"unbalanced', 'a"b', "'", "''", "\\", "\\\"", "*", "**", "a*", "*a", "^", "^Brunnen", "-", "--Brunnen",
    "NEAR", "NEAR(", "NEAR(Brunnen Markt, 2)", "Brunnen NEAR Markt", "AND", "OR", "NOT", "Brunnen OR", "OR OR OR",
    "NOT Brunnen", "title:Brunnen", "{title body}:Brunnen", "(", ")", "((Brunnen", "Brunnen)", "+", "!", "!Brunnen", "&",
    "|", "<->", "Brunnen <-> Markt", "Brunnen:*", ":*", "Brunnen & !Markt", "'Brunnen':*", "%", "_", "%_%",
    "' OR 1=1 --", "\"; DROP TABLE recommendations; --", "\u202e", "\u200b", "² ① ٣", "ß", "İ", "ﬁ", "😀", "🏳️‍🌈",
    "a" * 200, " ".join(["Brunnen"] * 60), " ".join(f"w{i}" for i in range(100)), "x" * 199 + "*",
    "\t\n\r", "   ", "Brunnen\u0000", "NEAR/3", "Brunnen^2", "@", "#", "$", "~", "`",
]


def test_hostile_queries_never_fail_and_change_nothing(world, corpus, app, api):
    def counts():
        db.session.rollback()
        return [db.session.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in ("recommendations", "comments")]

    before = counts()
    visitor = Browser(app)
    slug = world.process.slug
    for query in HOSTILE:
        page = visitor.client.get("/search", query_string={"q": query})
        assert page.status_code in (200, 400), (query, page.status_code)
        listing = visitor.client.get(f"/processes/{slug}", query_string={"q": query})
        assert listing.status_code in (200, 400), (query, listing.status_code)
        answer = api.client.get("/api/v1/search", query_string={"q": query})
        assert answer.status_code in (200, 400, 422), (query, answer.status_code)
    assert counts() == before
    # Operators and quotes are plain text: every word must occur, none of them acts.
    for query in ('"Brunnen', '"Brunnen" "Markt"', "Brunnen* -Markt", "^Brunnen", "(Brunnen)", "{Brunnen}"):
        assert found(None, query) == ["Ein Brunnen am Markt"], query
    for query in ("Brunnen OR Fahrradweg", "NEAR(Brunnen Markt, 2)", "title:Brunnen", "Brunnen NOT Markt"):
        assert found(None, query) == [], query


OPERATORS = st.sampled_from(['"', "'", "*", "^", ":", "NEAR", "NEAR(", "OR", "AND", "NOT", "-", "+", "(", ")", "{", "}",
                             "&", "|", "!", "<->", ":*", "\\", "%", "_", " ", "Brunnen", "Bäume", "ß", "\u0301"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=st.lists(OPERATORS | st.text(st.characters(exclude_categories=()), max_size=6), max_size=40).map("".join))
def test_any_text_is_a_search_or_a_clear_refusal(world, corpus, query):
    """Any Unicode (lone surrogates included) mixed with both query languages' operators."""
    try:
        results = search.search(world.moderator, query)
    except search.ValidationError:
        assert len(query) > search.MAX_QUERY
    else:
        assert len(query) <= search.MAX_QUERY and results.total >= 0
    db.session.rollback()


def test_limits_are_clear_refusals(world, corpus, app, api):
    visitor = Browser(app)
    too_long = "Brunnen " * 30
    page = visitor.client.get("/search", query_string={"q": too_long})
    assert page.status_code == 400 and "at most 200 characters" in page.text
    assert visitor.client.get(f"/processes/{world.process.slug}", query_string={"q": too_long}).status_code == 400
    assert api.client.get("/api/v1/search", query_string={"q": too_long}).status_code == 422
    assert api.client.get("/api/v1/search", query_string={"q": ""}).status_code == 422
    assert api.client.get("/api/v1/search", query_string={"q": "Brunnen", "page": "51"}).status_code == 422
    assert api.client.get("/api/v1/search", query_string={"q": "Brunnen", "per_page": "101"}).status_code == 422
    assert visitor.client.get("/search", query_string={"q": "Brunnen", "page": "51"}).status_code == 400
    assert visitor.client.get("/search", query_string={"q": "Brunnen", "page": "x"}).status_code == 400
    assert search.terms("a b c d e f g h i j k") == ["a", "b", "c", "d", "e", "f", "g", "h"]  # the first eight words


def test_pages_of_hits(world, rec_in, app, api):
    for index in range(23):
        services.create_recommendation(world.process.id, world.author, f"Radständer {index}", "Am Bahnhof.")
    first = search.search(world.moderator, "Bahnhof")
    assert first.total == 23 and len(first.hits) == 20 and first.pages == 2
    second = search.search(world.moderator, "Bahnhof", page=2)
    assert len(second.hits) == 3
    assert not {h.recommendation.id for h in first.hits} & {h.recommendation.id for h in second.hits}
    assert search.search(None, "Bahnhof").total == 0  # drafts: not for the public


def _run(function_name: str) -> None:
    spec = importlib.util.spec_from_file_location("full_text_search_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with db.engine.begin() as connection:
        with Operations.context(MigrationContext.configure(connection)):
            getattr(module, function_name)()


def test_the_migration_indexes_rows_written_before_it_and_goes_back(world, rec_in, app):
    rec_in(world, "steering_review", title="Vorher geschrieben", body="Ein Kiosk.")
    db.session.rollback()
    db.session.remove()
    _run("downgrade")
    try:
        # Without the index, rows are written as ever; the upgrade indexes them too.
        services.create_recommendation(world.process.id, world.author, "Ohne Index", "Ein Kiosk am See.")
        db.session.rollback()
        db.session.remove()
        names = set(sa.inspect(db.engine).get_table_names())
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("recommendations")}
        assert "recommendation_search" not in names and "search_vector" not in columns
    finally:
        _run("upgrade")
    assert set(found(world.author, "Kiosk")) == {"Vorher geschrieben", "Ohne Index"}


def test_the_passage_shown_marks_the_words_whatever_their_case_accents_or_ending():
    assert search.excerpt("Kurz: Ein **Brunnen** am [Markt](https://example.org).", ["brunnen", "markt"]) == [
        ("Kurz: Ein ", False), ("Brunnen", True), (" am ", False), ("Markt", True), (" .", False)]
    assert ("Spielplätze", True) in search.excerpt("Neue Spielplätze.", ["spielplatz"])
    assert ("Spielplatz", True) in search.excerpt("Ein Spielplatz.", ["spielplätze"])
    assert search.excerpt("Nichts davon.", ["brunnen"]) is None
    far = search.excerpt("Wort " * 500 + "der Brunnen", ["brunnen"])
    assert far[0] == ("… ", False) and ("Brunnen", True) in far
    assert len("".join(piece for piece, _ in far)) <= search.EXCERPT + 4


def test_an_erased_name_is_no_longer_found(world, corpus, make_user):
    person = make_user("Hildegard Quasthoff")
    services.create_comment(corpus["public"].id, world.member, "Abgestimmt mit Hildegard Quasthoff.")
    assert found(None, "Quasthoff") == ["Ein Brunnen am Markt"]
    services.erase_user(person.id, world.superuser)
    assert found(None, "Quasthoff") == [] and found(world.moderator, "Quasthoff") == []
