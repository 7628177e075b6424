"""The bell's count and the notifications page: the same visibility as everywhere else, and pages
(review of issue 15)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.notify.text import unread_count
from app.extensions import db
from app.models import Notification, utcnow
from tests.web.browser import Browser


def reply_to_member(world):
    """The member comments, the author answers: the member is told of the reply."""
    rec = services.create_recommendation(world.process.id, world.author, "Announce early", "B")
    rec = services.fire(rec.id, "submit", world.author, None, rec.version)
    rec = services.fire(rec.id, "start_moderation", world.moderator, None, rec.version)
    comment = services.create_comment(rec.id, world.member, "First")
    reply = services.create_comment(rec.id, world.author, "A reply", parent_id=comment.id)
    return rec, reply


def test_a_hidden_reply_leaves_the_bell_the_list_and_the_api(world, people, app, token):
    people(world)
    rec, reply = reply_to_member(world)
    member = Browser(app).login(world.member)
    member.get("/notifications")
    assert "(1 unread)" in member.text and "Author replied to your comment on “Announce early”." in member.text
    services.hide_comment(reply.id, world.moderator, "Off topic")
    member.get("/notifications")
    assert "unread)" not in member.text  # the bell counts only what the member may still see
    assert "replied to your comment" not in member.text
    assert "Nothing yet." in member.text
    assert unread_count(world.member.id) == 0
    listed = app.test_client().get("/api/v1/notifications", headers={"Authorization": f"Bearer {token(world.member)}"})
    assert listed.status_code == 200 and listed.get_json()["items"] == []
    # the notification itself is kept (it comes back if the comment is shown again), just not shown
    assert db.session.scalar(sa.select(sa.func.count()).where(Notification.user_id == world.member.id)) == 1


def test_a_recommendation_moved_out_of_sight_leaves_the_bell_and_the_list(world, people, app):
    people(world)
    rec, _reply = reply_to_member(world)
    member = Browser(app).login(world.member)
    member.get("/notifications")
    assert "(1 unread)" in member.text
    services.fire(rec.id, "return_to_authors", world.moderator, "Please shorten it.", rec.version)  # a draft again
    member.get("/notifications")
    assert "unread)" not in member.text and "Announce early" not in member.text


def test_the_notifications_page_has_pages(world, people, app):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Announce early", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)  # one notification for the moderator
    now = utcnow()
    db.session.execute(sa.insert(Notification.__table__), [
        {"user_id": world.moderator.id, "kind": "your_turn", "event": "transition", "recommendation_id": rec.id,
         "data": '{"from": "draft", "to": "submitted", "trigger": "submit"}', "delivery": "off", "created_at": now}
        for _ in range(119)])
    db.session.commit()
    newest = db.session.scalar(sa.select(sa.func.max(Notification.id)))
    moderator = Browser(app).login(world.moderator)

    def shown() -> list[int]:
        return [int(i) for i in re.findall(r'name="id" value="(\d+)"', moderator.page.text)]

    moderator.get("/notifications")
    assert "(99+ unread)" in moderator.text and "Page 1 of 3" in moderator.text  # the bell counts to 99
    first = shown()
    assert len(first) == 50 and first[0] == newest and first == sorted(first, reverse=True)
    assert 'rel="next" href="/notifications?page=2"' in moderator.page.text
    moderator.get("/notifications?page=2")
    second = shown()
    assert len(second) == 50 and max(second) < min(first) and "Page 2 of 3" in moderator.text
    moderator.get("/notifications?page=3")
    third = shown()
    assert len(third) == 20 and max(third) < min(second)
    assert len(set(first + second + third)) == 120
    # marking one read on page 2 leads back to page 2
    moderator.get("/notifications?page=2")
    moderator.post("/notifications/read", {"id": str(second[0]), "page": "2"}, status=200)
    assert moderator.redirected_to == "/notifications" and "Page 2 of 3" in moderator.text
    assert db.session.get(Notification, second[0]).read_at is not None and "(99+ unread)" in moderator.text
    services.mark_read(world.moderator, third)  # 20 more read: 99 unread, the bell's own number again
    # beyond the last page: said so, with the way back; a page that is no number: a clear 400, nothing changed
    moderator.get("/notifications?page=7")
    assert "There are no notifications on this page." in moderator.text and "Previous page" in moderator.text
    for bad in ("page=abc", "page=0", "page=-1", "page=99999999999"):
        moderator.get(f"/notifications?{bad}", status=400)  # as every other list
    moderator.get("/notifications")
    assert "(99 unread)" in moderator.text
