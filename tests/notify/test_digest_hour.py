"""Digests go out once a day at ``DIGEST_HOUR`` in the installation's time zone, never earlier or at
another time of day because news came in (review of issue 15)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app import services
from app.notify.text import unread_count
from app.extensions import db
from app.models import Mail
from app.services import notifications


def at(monkeypatch, when: datetime) -> None:
    """The worker's and the services' clock (UTC) stands at ``when``."""
    monkeypatch.setattr(notifications, "utcnow", lambda: when)


def test_a_digest_waits_for_the_hour_and_news_after_it_for_the_next_day(world, inbox, work, rec_in, app, make_user,
                                                                        monkeypatch):
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"  # UTC+1 in December
    app.config["DIGEST_HOUR"] = 7
    early_fan, late_fan = make_user("Early fan"), make_user("Late fan")
    rec = rec_in(world, "steering_review")
    work()
    inbox.clear()
    services.follow(early_fan, recommendation_id=rec.id)
    day = datetime(2026, 12, 2)

    at(monkeypatch, day.replace(hour=4))  # 05:00 in Berlin
    services.create_comment(rec.id, world.member, "Before breakfast")
    at(monkeypatch, day.replace(hour=5, minute=59))  # 06:59: not yet
    assert work()["digests"] == 0
    assert inbox.to(early_fan.email) == []

    at(monkeypatch, day.replace(hour=6))  # 07:00: the day's digest
    assert work()["digests"] == 1
    [first] = inbox.to(early_fan.email)
    assert "1 news of the day" in first.message["Subject"] and "Before breakfast" not in first.message["Subject"]

    services.follow(late_fan, recommendation_id=rec.id)
    at(monkeypatch, day.replace(hour=8))  # 09:00: news for both, after the hour
    services.create_comment(rec.id, world.member, "Mid-morning")
    for hour in (8, 12, 22):
        at(monkeypatch, day.replace(hour=hour, minute=30))
        assert work()["digests"] == 0  # it waits for tomorrow, also for the one who had no digest today
    at(monkeypatch, day + timedelta(days=1, hours=5, minutes=30))  # 06:30 the next morning: not yet
    assert work()["digests"] == 0
    at(monkeypatch, day + timedelta(days=1, hours=6, minutes=5))  # 07:05
    assert work()["digests"] == 2
    assert work()["digests"] == 0  # once a day
    assert len(inbox.to(early_fan.email)) == 2 and len(inbox.to(late_fan.email)) == 1
    assert "1 news of the day" in inbox.to(late_fan.email)[0].message["Subject"]
    assert db.session.scalar(sa.select(sa.func.count()).where(Mail.kind == "digest")) == 3


def test_a_digest_hour_that_is_no_hour_is_a_clear_error_and_queues_nothing(world, rec_in, app, make_user, monkeypatch):
    app.config["DIGEST_HOUR"] = "25"
    fan = make_user("Fan")
    rec = rec_in(world, "steering_review")
    services.follow(fan, recommendation_id=rec.id)
    services.create_comment(rec.id, world.member, "News")
    notifications.route_pass()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 1 and "DIGEST_HOUR (RATSCHLAG_DIGEST_HOUR) must be an hour from 0 to 23" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).where(Mail.kind == "digest")) == 0
    with pytest.raises(ValueError, match="not '25'"):
        notifications.digest_pass(now=datetime(2026, 12, 3, 12))


def test_news_set_aside_for_the_digest_is_not_sent_once_its_kind_is_turned_off(world, inbox, work, rec_in, app,
                                                                               make_user, monkeypatch):
    """Found by the review of issue 15: news routed into tomorrow's digest was still gathered and
    mailed after the person turned the kind off (settings page or one-click unsubscribe)."""
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    app.config["DIGEST_HOUR"] = 7
    fan = make_user("Fan")
    rec = rec_in(world, "steering_review")
    work()
    inbox.clear()
    services.follow(fan, recommendation_id=rec.id)
    day = datetime(2026, 12, 2)
    at(monkeypatch, day.replace(hour=5))
    services.create_comment(rec.id, world.member, "Set aside for the digest")
    work()  # routed into the digest, not yet sent
    services.save_notification_settings(fan, {"followed": "off"})
    at(monkeypatch, day.replace(hour=7, minute=5))
    assert work()["digests"] == 0 and inbox.to(fan.email) == []
    assert unread_count(fan.id) >= 1  # still on the notifications page
