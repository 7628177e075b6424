"""A double click on Follow (two POSTs at once) is a quiet success, not a 500 (review of issue 15)."""
from __future__ import annotations

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Follow
from app.services import notifications
from tests.web.browser import Browser


def as_if_simultaneous(monkeypatch):
    """The second request's check ran before the first one's insert committed: it finds no follow."""
    monkeypatch.setattr(notifications, "_follow_query", lambda *_args: sa.select(Follow.id).where(sa.false()))


def follows_of(user) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Follow).where(Follow.user_id == user.id))


def test_a_double_click_on_follow_is_one_follow_and_no_error(world, people, app, rec_in, monkeypatch):
    people(world)
    rec = rec_in(world, "steering_review")
    member = Browser(app).login(world.member)
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member.get(page)
    token = member.token()
    first = member.client.post(page + "/follow", data={"csrf_token": token})
    assert first.status_code == 302
    with monkeypatch.context() as patched:
        as_if_simultaneous(patched)
        second = member.client.post(page + "/follow", data={"csrf_token": token})
        assert second.status_code == 302 and second.headers["Location"].endswith(page)
        # the process's Follow button the same way
        process_page = f"/processes/{world.process.slug}"
        assert member.client.post(process_page + "/follow", data={"csrf_token": token}).status_code == 302
        assert member.client.post(process_page + "/follow", data={"csrf_token": token}).status_code == 302
    assert follows_of(world.member) == 2  # one for the recommendation, one for the process
    member.get(page)
    assert "You follow this now" in member.text and "Stop following" in member.text
    # the service says it changed nothing, and the session goes on working
    with monkeypatch.context() as patched:
        as_if_simultaneous(patched)
        assert services.follow(world.member, recommendation_id=rec.id) is False
    assert services.unfollow(world.member, recommendation_id=rec.id) is True
    assert follows_of(world.member) == 1


def test_the_follow_message_says_how_news_will_come(world, people, app, rec_in):
    from tests.web.browser import Browser
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = Browser(app).login(world.member)
    member.get(page)
    member.post(page + "/follow", {})
    assert "comes in your daily summary" in member.text
    member.post(page + "/unfollow", {})
    services.save_notification_settings(world.member, {"followed": "immediate"})
    member.post(page + "/follow", {})
    assert "comes by e-mail as it happens" in member.text
