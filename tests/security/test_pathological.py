"""Pathological inputs give correct answers on every write and read path (time is bench/inputs.py's job).

Each input of ``tests/security/pathological.py`` goes in as a recommendation body (API) and edit
(API), a comment and a reply (API), and a comment through the form; then the recommendation
page, its versions diff, the API's recommendation and comments must answer 200 with the text
stored as sent.
"""
from __future__ import annotations

import json

import pytest

from app.extensions import db
from app.models import Comment, Recommendation
from app.services.validation import COMMENT_MAX
from tests.html_safety import executable_parts, without_own_scripts
from tests.security.pathological import NAMES, corpus, typical

SIZE = COMMENT_MAX  # bench/inputs.py also measures bodies at BODY_MAX
INPUTS = dict(corpus(SIZE))


def test_the_corpus_is_large_and_at_the_limit():
    assert len(INPUTS) >= 40 and len(NAMES) == len(set(NAMES))
    assert all(0 < len(value) <= SIZE for value in INPUTS.values())
    assert sum(len(value) > SIZE * 0.9 for value in INPUTS.values()) >= 40


@pytest.mark.parametrize("name", NAMES)
def test_every_write_and_read_path_answers_correctly(name, world, people, browser, api):
    people(world)
    source = INPUTS[name]
    slug = world.process.slug
    created = api.post(f"/processes/{slug}/recommendations", world.author, json={"title": name, "body": source})
    assert created.status_code == 201, created.json
    rec_id, number = created.json["id"], created.json["number"]
    edited = api.patch(f"/recommendations/{rec_id}", world.author,
                       json={"body": typical(2_000), "version": created.json["version"]})
    assert edited.status_code == 200, edited.json
    comment = api.post(f"/recommendations/{rec_id}/comments", world.author, json={"body": source})
    assert comment.status_code == 201, comment.json
    reply = api.post(f"/recommendations/{rec_id}/comments", world.author,
                     json={"body": source, "parent_id": comment.json["id"]})
    assert reply.status_code == 201, reply.json

    author = browser(world.author)
    base = f"/processes/{slug}/recommendations/{number}"
    author.get(base)
    author.post(f"{base}/comments", {"body": source, "visibility": "public"}, status=200)

    db.session.rollback()
    assert db.session.get(Recommendation, rec_id).body != source  # edited
    stored = db.session.scalars(db.select(Comment).where(Comment.recommendation_id == rec_id)).all()
    assert [c.body for c in stored] == [source] * 3
    for c in stored:
        assert executable_parts(c.body_html) == []
    for page in (base, f"{base}/versions?a=1&b=2", f"{base}/versions?a=2&b=1"):
        author.get(page)
        assert "<script" not in without_own_scripts(author.page.text).lower()
    answer = api.get(f"/recommendations/{rec_id}", world.author).json
    assert answer["body"] == typical(2_000)
    items = api.get(f"/recommendations/{rec_id}/comments", world.author).json["items"]
    assert [item["body"] for item in items] == [source] * 3


def test_the_preview_takes_the_same_path(world, people, browser):
    people(world)
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/new")
    for name in ("open brackets [", "table rows", "deep blockquotes > > >", "nested emphasis *_*_x_*_*"):
        author.post(f"/processes/{world.process.slug}/new", {"title": name, "body": INPUTS[name], "preview": "1"},
                    status=200)


def test_a_diff_too_costly_to_compute_is_refused_politely(world, people, browser, api, texts_of_old):
    people(world)
    old = "\n".join(str(i % 100) for i in range(10_000))
    new = "\n".join(str((i * 7) % 100) for i in range(10_000))
    created = api.post(f"/processes/{world.process.slug}/recommendations", world.author, json={"title": "T", "body": old})
    api.patch(f"/recommendations/{created.json['id']}", world.author, json={"body": new, "version": created.json["version"]})
    page = browser().client.get(f"/processes/{world.process.slug}/recommendations/{created.json['number']}/versions?a=1&b=2")
    # still a draft: anonymous visitors see 404; the author sees the notice
    assert page.status_code == 404
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{created.json['number']}/versions?a=1&b=2")
    assert "too different to compare line by line" in author.text


@pytest.mark.parametrize("field", ["title", "body"])
def test_a_lone_surrogate_in_json_is_refused_not_a_server_error(field, world, api):
    payload = {"title": "T", "body": "B", field: "x\ud800"}
    raw = json.dumps(payload)  # ensure_ascii: the surrogate travels as the escape \ud800
    assert "\\ud800" in raw
    response = api.post(f"/processes/{world.process.slug}/recommendations", world.author, data=raw)
    assert response.status_code == 422 and response.json["error"]["code"] == "validation", response.json


def test_a_lone_surrogate_in_a_comment_is_refused(world, rec_in, api):
    rec = rec_in(world, "steering_review")
    response = api.post(f"/recommendations/{rec.id}/comments", world.member, data='{"body": "\\udfff x"}')
    assert response.status_code == 422, response.json
    paired = api.post(f"/recommendations/{rec.id}/comments", world.member, data='{"body": "\\ud83d\\ude00 ok"}')
    assert paired.status_code == 201 and paired.json["body"] == "\U0001F600 ok"


@pytest.mark.parametrize("value", ["²", "①", "٣", "1²", "𝟙", "-1", "1e3", "99999999999999999999999"])
def test_unusual_digits_in_page_and_version_numbers(value, world, people, rec_in, browser, api):
    people(world)
    rec = rec_in(world, "steering_review")
    slug = world.process.slug
    anonymous = browser()
    assert anonymous.client.get(f"/processes/{slug}", query_string={"page": value}).status_code in (400, 404)
    versions = anonymous.client.get(f"/processes/{slug}/recommendations/{rec.number}/versions",
                                    query_string={"a": value, "b": "1"})
    assert versions.status_code == 200
    listing = api.client.get(f"/api/v1/processes/{slug}/recommendations", query_string={"page": value})
    assert listing.status_code in (200, 400, 422)
