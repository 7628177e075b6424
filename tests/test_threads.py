"""Comment threads: reading order without recursion, and the reply depth the service bounds."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from app import services
from app.extensions import db
from app.models import Comment, utcnow
from app.threads import MAX_REPLY_DEPTH, check_reply_depth, reply_depth, thread_rows
from app.errors import ValidationError
from tests.conftest import audit_count


@dataclass
class Node:
    id: int
    parent_id: int | None


def test_reading_order_indentation_and_flat_replies():
    nodes = [Node(1, None), Node(2, 1), Node(3, None), Node(4, 2), Node(5, 1), Node(6, 4), Node(7, 6), Node(8, 99)]
    rows = [(c.id, depth, answers.id if answers else None) for c, depth, answers in thread_rows(nodes, 2)]
    assert rows == [(1, 0, None), (2, 1, None), (4, 2, None), (6, 2, 4), (7, 2, 6), (5, 1, None),
                    (3, 0, None), (8, 0, None)]


def test_a_chain_far_deeper_than_the_recursion_limit():
    chain = [Node(1, None)] + [Node(i, i - 1) for i in range(2, 20_001)]
    rows = thread_rows(chain, 4)
    assert [c.id for c, _d, _a in rows] == list(range(1, 20_001))  # still in order
    assert max(d for _c, d, _a in rows) == 4
    assert all(a.id == c.parent_id for c, d, a in rows[5:])  # each deeper one names whom it answers


def test_a_cycle_in_stored_data_does_not_loop():
    assert [c.id for c, _d, _a in thread_rows([Node(1, 2), Node(2, 1), Node(3, None)], 4)] == [3]


def chain_of(rec, author, length: int) -> list[Comment]:
    """``length`` comments, each replying to the one before, written directly (as old data may be)."""
    comments, parent = [], None
    for _ in range(length):
        comment = Comment(recommendation_id=rec.id, parent_id=parent, author_id=author.id, body="x",
                          body_html="<p>x</p>", visibility="public", created_at=utcnow())
        db.session.add(comment)
        db.session.flush()
        comments.append(comment)
        parent = comment.id
    db.session.commit()
    return comments


def test_reply_depth_counts_ancestors_and_stops_past_the_limit(world, rec_in):
    rec = rec_in(world, "steering_review")
    top = services.create_comment(rec.id, world.member, "top")
    assert reply_depth(top.id) == 1
    reply = services.create_comment(rec.id, world.member, "reply", top.id)
    assert reply_depth(reply.id) == 2
    assert reply_depth(10**9) == 0
    chain = chain_of(rec, world.member, MAX_REPLY_DEPTH + 5)
    # chain[k] has k ancestors: a reply to it would be at depth k + 1
    assert reply_depth(chain[MAX_REPLY_DEPTH - 1].id) == MAX_REPLY_DEPTH
    check_reply_depth(chain[MAX_REPLY_DEPTH - 1].id)  # the deepest reply allowed
    assert reply_depth(chain[MAX_REPLY_DEPTH].id) == MAX_REPLY_DEPTH + 1
    assert reply_depth(chain[-1].id) == MAX_REPLY_DEPTH + 1
    with pytest.raises(ValidationError) as refused:
        check_reply_depth(chain[-1].id)
    assert refused.value.status == 422 and refused.value.code == "validation"
    assert str(MAX_REPLY_DEPTH) in refused.value.message


def test_a_thousand_nested_replies_leave_the_page_readable(world, people, rec_in, browser, api):
    people(world)
    rec = rec_in(world, "steering_review")
    chain = chain_of(rec, world.member, 1_500)
    member = browser(world.member)
    member.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    html, page = member.page.text, member.text
    ids = [int(i) for i in __import__("re").findall(r'<li id="comment-(\d+)"', html)]
    assert ids == [c.id for c in chain]  # every reply shown, in order
    assert "depth-5" not in html and html.count("depth-4") == 1_500 - 4
    assert html.count('name="parent_id"') >= 1_500  # each one can still be answered
    assert "in reply to" in page
    items = api.get(f"/recommendations/{rec.id}/comments").json["items"]
    assert [item["id"] for item in items] == [c.id for c in chain]


def test_a_reply_beyond_the_documented_depth_is_refused_and_changes_nothing(world, rec_in, api):
    rec = rec_in(world, "steering_review")
    chain = chain_of(rec, world.member, MAX_REPLY_DEPTH + 1)  # chain[k] has k ancestors
    deepest = api.post(f"/recommendations/{rec.id}/comments", world.member,
                       json={"body": "the deepest reply allowed", "parent_id": chain[-2].id})
    assert deepest.status_code == 201
    events = audit_count()
    refused = api.post(f"/recommendations/{rec.id}/comments", world.member,
                       json={"body": "one level too deep", "parent_id": chain[-1].id})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "validation"
    assert str(MAX_REPLY_DEPTH) in refused.json["error"]["message"]
    assert audit_count() == events
    assert "one level too deep" not in [c["body"] for c in api.get(f"/recommendations/{rec.id}/comments").json["items"]]
