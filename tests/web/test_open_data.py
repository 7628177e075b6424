"""Open data and feeds: only what the public may see, in the documented schema, streamed; feeds are Atom."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from app import services
from app.workflow import engine
from tests.conftest import REPO, path_to

ATOM = "{http://www.w3.org/2005/Atom}"
SCHEMA = json.loads((REPO / "docs" / "open-data.schema.json").read_text())


@pytest.fixture
def published(world, rec_in, make_user):
    """A process with an adopted, a public (with public, internal and declined statements) and a draft recommendation."""
    planning = services.create_department("stadtplanung", "Stadtentwicklungsamt")
    planner = make_user("Petra Planung")
    services.add_department_member(planning, planner)
    social = services.create_department("sozialamt", "Sozialamt")
    services.add_department_member(social, planner)
    adopted = rec_in(world, "adopted", title="=HYPERLINK(\"http://evil.example\")", body="Körper, mit \"Anführung\"\nund Zeile")
    review = rec_in(world, "steering_review", title="Früh ankündigen")
    public = services.request_statement(review.id, world.administrator, "stadtplanung", question="Machbar?")
    services.answer_statement(public.id, planner, "Ja, **machbar**.", "public")
    internal = services.request_statement(review.id, world.administrator, "sozialamt", question="Intern?")
    services.answer_statement(internal.id, planner, "Nur intern: Haushalt", "internal")
    draft = rec_in(world, "draft", title="Geheimer Entwurf")
    return {"adopted": adopted, "review": review, "draft": draft}


def test_json_export_holds_only_what_the_public_sees_in_the_documented_schema(client, world, published, token):
    response = client.get(f"/processes/{world.process.slug}/open-data.json", buffered=True)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert 'attachment; filename="guidelines-open-data.json"' == response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    Draft202012Validator(SCHEMA, format_checker=FormatChecker()).validate(data)
    assert data["schema"] == "ratschlag-open-data/1" and data["process"]["slug"] == "guidelines"
    records = {r["title"]: r for r in data["recommendations"]}
    assert set(records) == {published["adopted"].title, "Früh ankündigen"}  # no draft
    adopted = records[published["adopted"].title]
    assert adopted["title"].startswith("=HYPERLINK")  # JSON carries the text unchanged
    assert adopted["decision"]["outcome"] == "adopted" and adopted["decision"]["note"] == "Because it is right."
    assert adopted["url"] == f"http://ratschlag.test/processes/guidelines/recommendations/{published['adopted'].number}"
    review = records["Früh ankündigen"]
    assert review["decision"] is None
    assert [(s["department"]["slug"], s["status"], s["body"]) for s in review["statements"]] == \
        [("stadtplanung", "answered", "Ja, **machbar**.")]
    text = response.get_data(as_text=True)
    assert "Nur intern" not in text and "Geheimer Entwurf" not in text and "Petra" not in text
    assert "Author" not in text and "Administrator" not in text  # no names of people
    # A moderator asking gets the same public view.
    moderator = client.get(f"/processes/{world.process.slug}/open-data.json", buffered=True,
                           headers={"Authorization": f"Bearer {token(world.moderator)}"})
    assert json.loads(moderator.get_data(as_text=True)) == data


def test_csv_exports(client, world, published):
    response = client.get(f"/processes/{world.process.slug}/recommendations.csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == ["number", "title", "body", "state", "created_at", "updated_at", "outcome", "decision_state",
                             "decision_note", "decided_at", "statements", "url"]
    assert [r["number"] for r in rows] == [str(published["adopted"].number), str(published["review"].number)]
    adopted, review = rows
    assert adopted["title"] == "'=HYPERLINK(\"http://evil.example\")"  # a spreadsheet does not run it
    assert adopted["body"] == "Körper, mit \"Anführung\"\nund Zeile" and adopted["outcome"] == "adopted"
    assert review["outcome"] == "" and review["statements"] == "1"
    statements = list(csv.DictReader(io.StringIO(
        client.get(f"/processes/{world.process.slug}/statements.csv", buffered=True).get_data(as_text=True))))
    assert [(s["recommendation_number"], s["department"], s["status"], s["body"]) for s in statements] == \
        [(str(published["review"].number), "stadtplanung", "answered", "Ja, **machbar**.")]


def test_exports_are_streamed(app, world):
    from app.web import opendata as views
    with app.test_request_context():
        for view in (views.open_data_json, views.open_data_recommendations, views.open_data_statements):
            assert view(world.process.slug).is_streamed, view


def test_exports_stream_in_batches(app, world, rec_in, monkeypatch):
    from app import opendata
    monkeypatch.setattr(opendata, "BATCH", 2)
    monkeypatch.setattr(opendata.batches, "__defaults__", (2,))
    for n in range(5):
        rec_in(world, "steering_review", title=f"Nummer {n}")
    rec_in(world, "draft", title="Entwurf")
    batches = list(opendata.batches(opendata.public(world.process)))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [r["title"] for b in batches for r in b] == [f"Nummer {n}" for n in range(5)]


def test_unknown_process_is_404(client):
    for url in ("/processes/nope/open-data.json", "/processes/nope/recommendations.csv",
                "/processes/nope/statements.csv", "/processes/nope/decisions.atom", "/processes/nope/new.atom"):
        assert client.get(url).status_code == 404, url


def parse_atom(response):
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    root = ElementTree.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    # RFC 4287: a feed has exactly one id, title and updated, a self link, and an author;
    # each entry one id, title, updated and an alternate link.
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{tag}")) == 1, tag
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert any(link.get("rel") == "self" for link in root.findall(f"{ATOM}link"))
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{tag}")) == 1, tag
        assert entry.find(f"{ATOM}link").get("href").startswith("http://ratschlag.test/")
        assert entry.find(f"{ATOM}updated").text.endswith("Z")
    assert len({e.find(f"{ATOM}id").text for e in entries}) == len(entries)
    return root, entries


def test_the_decision_feed_is_atom_with_the_public_decisions(client, world, published):
    root, entries = parse_atom(client.get(f"/processes/{world.process.slug}/decisions.atom"))
    assert [e.find(f"{ATOM}title").text for e in entries] == [f"Adopted: {published['adopted'].title}"]
    assert entries[0].find(f"{ATOM}content").text == "Because it is right."
    assert root.find(f"{ATOM}id").text == "http://ratschlag.test/processes/guidelines/decisions.atom"


def test_the_new_items_feed_is_atom_with_public_items_only(client, world, published):
    _root, entries = parse_atom(client.get(f"/processes/{world.process.slug}/new.atom"))
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert titles == [f"Recommendation {published['review'].number}: Früh ankündigen",
                      f"Recommendation {published['adopted'].number}: {published['adopted'].title}"]
    assert "Geheimer Entwurf" not in client.get(f"/processes/{world.process.slug}/new.atom").text
    assert entries[0].find(f"{ATOM}content").get("type") == "html"


def test_an_empty_process_has_valid_feeds_and_exports(client, world):
    _root, entries = parse_atom(client.get(f"/processes/{world.process.slug}/decisions.atom"))
    assert entries == []
    data = json.loads(client.get(f"/processes/{world.process.slug}/open-data.json", buffered=True).get_data(as_text=True))
    Draft202012Validator(SCHEMA).validate(data)
    assert data["recommendations"] == []
    assert client.get(f"/processes/{world.process.slug}/statements.csv", buffered=True).get_data(as_text=True) == \
        "recommendation_number,department,department_name,question,status,requested_at,due_at,answered_at,body,reason\r\n"


def test_control_characters_are_refused_and_never_break_a_feed(client, world, published, api):
    """A title with a backspace or U+FFFF is refused with 422 (nothing stored); one stored before that
    rule still leaves the feeds well-formed XML."""
    from app.extensions import db
    from app.models import Recommendation
    count = db.session.scalar(db.select(db.func.count()).select_from(Recommendation))
    for title in ("Feed\uffffbreaker", "back\x08space", "bell\x07"):
        response = api.post(f"/processes/{world.process.slug}/recommendations", world.author,
                            json={"title": title, "body": "b"})
        assert response.status_code == 422 and "control characters" in response.json["error"]["message"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Recommendation)) == count
    adopted = db.session.get(Recommendation, published["adopted"].id)
    adopted.title, adopted.body_html = "Alt\x08er\uffffTitel", "<p>Alt\x0bText</p>"  # as an older version stored it
    db.session.commit()
    for feed in ("decisions.atom", "new.atom"):
        _root, entries = parse_atom(client.get(f"/processes/{world.process.slug}/{feed}"))
        assert any(e.find(f"{ATOM}title").text.endswith("AlterTitel") for e in entries)
