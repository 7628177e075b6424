"""Notifications in the browser and the API, following, settings, invitations and password resets."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import ApiToken, Follow, Mail, Notification, NotificationSetting, User, UserToken, utcnow
from app.services import passwords
from tests.conftest import audit_count
from tests.web.browser import PASSWORD, Browser

LINK = re.compile(r"https://ratschlag\.example\.org(/password/[0-9a-f]+)")


def link_in(inbox, email: str) -> str:
    [mail] = inbox.to(email)
    return LINK.search(mail.text).group(1)


def test_the_bell_counts_unread_and_the_page_marks_read(world, people, app):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Announce early", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    rec2 = services.create_recommendation(world.process.id, world.author, "Second", "B")
    services.fire(rec2.id, "submit", world.author, None, rec2.version)
    moderator = Browser(app).login(world.moderator)
    assert "(2 unread)" in moderator.get("/notifications").text
    assert "“Announce early” is now Submitted: it is your turn." in moderator.text
    first = db.session.scalar(sa.select(Notification.id).where(Notification.user_id == world.moderator.id)
                              .order_by(Notification.id))
    moderator.post("/notifications/read", {"id": str(first)}, status=200)
    assert "(1 unread)" in moderator.text
    # someone else's notification cannot be marked through a guessed id
    others = db.session.scalar(sa.select(Notification.id).where(Notification.user_id != world.moderator.id))
    author = Browser(app).login(world.author)
    author.get("/notifications")
    if others is not None:
        author.post("/notifications/read", {"id": str(first + 1)}, status=200)
        assert db.session.get(Notification, first + 1).read_at is None
    moderator.post("/notifications/read", {}, status=200)
    assert "unread)" not in moderator.text and "All notifications are marked read." in moderator.text
    # without the CSRF token nothing changes
    services.create_comment(rec.id, world.member, "Hello")  # nothing for the moderator: not following
    assert moderator.client.post("/notifications/read", data={}).status_code == 400


def test_signing_in_lands_on_what_waits(world, people, app, make_user):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Announce early", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    moderator = Browser(app)
    moderator.get("/login")
    page = moderator.post("/login", {"email": world.moderator.email, "password": PASSWORD}, follow=False)
    assert page.headers["Location"].endswith("/home")
    moderator.get("/home")
    assert "What waits for you" in moderator.text and "Announce early" in moderator.text
    member = Browser(app).login(world.member)
    member.get("/home")
    assert "Nothing waits for a step of yours." in member.text
    assert Browser(app).client.get("/home").status_code == 302  # signed out: to the login page


def test_settings_page_saves_choices_and_refuses_unknown_ones(world, people, app):
    people(world)
    person = Browser(app).login(world.member)
    person.get("/notifications/settings")
    person.post("/notifications/settings", {"your_turn": "off", "authored": "digest", "statement": "immediate",
                                            "reply": "immediate", "deadline": "immediate", "report": "immediate",
                                            "followed": "digest", "language": "de"}, status=200)
    assert services.notification_modes(world.member.id)["your_turn"] == "off"
    assert db.session.get(User, world.member.id).language == "de"
    before = db.session.execute(sa.select(NotificationSetting.kind, NotificationSetting.mode)
                                .where(NotificationSetting.user_id == world.member.id)).all()
    person.get("/notifications/settings")
    person.post("/notifications/settings", {"your_turn": "sometimes", "authored": "digest", "statement": "immediate",
                                            "reply": "immediate", "deadline": "immediate", "report": "immediate",
                                            "followed": "digest", "language": "fr"}, status=200)
    assert "Not a valid choice" in person.text
    assert db.session.execute(sa.select(NotificationSetting.kind, NotificationSetting.mode)
                              .where(NotificationSetting.user_id == world.member.id)).all() == before


def test_follow_and_unfollow_a_recommendation_and_a_process(world, people, app, rec_in):
    people(world)
    public = rec_in(world, "steering_review")
    draft = rec_in(world, "draft")
    member = Browser(app).login(world.member)
    page = f"/processes/{world.process.slug}/recommendations/{public.number}"
    member.get(page)
    member.post(page + "/follow", status=200)
    assert "Stop following" in member.text
    assert services.follows(world.member.id, recommendation_id=public.id)
    member.post(page + "/unfollow", status=200)
    assert not services.follows(world.member.id, recommendation_id=public.id)
    # a draft the member may not see cannot be followed
    assert member.post(f"/processes/{world.process.slug}/recommendations/{draft.number}/follow",
                       follow=False).status_code == 404
    member.get(f"/processes/{world.process.slug}")
    member.post(f"/processes/{world.process.slug}/follow", status=200)
    assert services.follows(world.member.id, process_id=world.process.id)
    assert Browser(app).client.post(page + "/follow").status_code in (302, 400)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Follow)) == 1


def test_the_api_lists_the_callers_notifications_newest_first(world, api, rec_in):
    rec = services.create_recommendation(world.process.id, world.author, "Announce early", "B")
    services.fire(rec.id, "submit", world.author, None, rec.version)
    rec2 = services.create_recommendation(world.process.id, world.author, "Second", "B")
    services.fire(rec2.id, "submit", world.author, None, rec2.version)
    answer = api.get("/notifications", world.moderator)
    assert answer.status_code == 200
    items = answer.json["items"]
    assert [i["recommendation"]["title"] for i in items] == ["Second", "Announce early"]
    assert items[0]["kind"] == "your_turn" and items[0]["read"] is False and items[0]["actor"]["name"] == "Author"
    assert api.get("/notifications?limit=1", world.moderator).json["items"][0]["recommendation"]["title"] == "Second"
    assert api.get(f"/notifications?before={items[0]['id']}", world.moderator).json["items"][0]["recommendation"]["title"] == "Announce early"
    assert api.get("/notifications", world.member).json["items"] == []
    assert api.get("/notifications", None).status_code == 401
    for bad in ("limit=0", "limit=101", "limit=x", "before=-1", "before=2147483648"):  # an id past PostgreSQL's integer
        answer = api.get(f"/notifications?{bad}", world.moderator)
        assert answer.status_code == 422 and answer.json["error"]["code"] == "validation", bad


def test_a_notification_about_what_became_invisible_is_not_listed(world, api):
    rec = services.create_recommendation(world.process.id, world.author, "A", "B")
    rec = services.fire(rec.id, "submit", world.author, None, rec.version)
    services.follow(world.member, recommendation_id=rec.id)
    rec = services.fire(rec.id, "start_moderation", world.moderator, None, rec.version)
    assert len(api.get("/notifications", world.member).json["items"]) == 1
    services.fire(rec.id, "return_to_authors", world.moderator, "Shorter", rec.version)  # a draft: hidden from members
    assert api.get("/notifications", world.member).json["items"] == []


def test_invitation_by_cli_sets_a_password_through_a_single_use_link(app, runner, inbox, work, client):
    result = runner.invoke(args=["users", "invite", "neu@example.org", "--name", "Neue Person"])
    assert result.exit_code == 0, result.output
    stored = db.session.scalar(sa.select(UserToken))
    assert stored.token_hash is not None and len(stored.token_hash) == 64
    work()
    path = link_in(inbox, "neu@example.org")
    assert stored.token_hash not in path  # the database holds only a hash of the link's secret
    browser = Browser(app)
    browser.get(path)
    assert "Welcome, Neue Person" in browser.text
    browser.post(path, {"new": "short"}, status=200)
    assert "At least 10 characters" in browser.text
    browser.post(path, {"new": "a-new-long-password"}, status=200)
    assert "Your password is set" in browser.text
    Browser(app).login(db.session.scalar(sa.select(User).where(User.email == "neu@example.org")), "a-new-long-password")
    assert Browser(app).client.get(path).status_code == 404  # used up
    assert runner.invoke(args=["users", "invite", "neu@example.org", "--name", "X"]).exit_code == 1


def test_admin_page_invites(world, people, app, inbox, work):
    people(world)
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/users")
    admin.post("/admin/users/invite", {"invite-email": "gast@example.org", "invite-name": "Gast"}, status=200)
    assert "gast@example.org is invited" in admin.text
    work()
    assert "/password/" in inbox.to("gast@example.org")[0].text
    # An address that has an account already: refused, back to the page with the name as typed.
    admin.post("/admin/users/invite", {"invite-email": "GAST@example.org", "invite-name": "Gast Zwei"}, status=200)
    assert admin.redirected_to == "/admin/users" and 'value="Gast Zwei"' in admin.page.text
    member = Browser(app).login(world.member)
    member.get("/notifications")
    assert member.post("/admin/users/invite", {"invite-email": "x@example.org", "invite-name": "X"},
                       follow=False).status_code == 403
    assert services.find_user("x@example.org") is None


def test_forgot_password_answers_the_same_and_mails_only_real_accounts(world, people, app, inbox, work, token):
    people(world)
    api_token = token(world.member)
    answers = []
    for email in (world.member.email, "nobody@example.org", world.member.email.upper()):
        browser = Browser(app)
        browser.get("/password/forgot")
        browser.post("/password/forgot", {"email": email}, status=200)
        answers.append(browser.text)
    assert answers[0] == answers[1] == answers[2]
    assert "If an account has this address" in answers[0]
    work()
    assert {to for r in inbox.received for to in r.recipients} == {world.member.email}
    # Asked twice within RESET_PAUSE: one mail, not one a request (nobody floods a person's inbox).
    assert len(inbox.received) == 1
    first = LINK.search(inbox.received[0].text).group(1)
    from app.transactions import write_transaction
    with write_transaction() as session:  # the pause has passed
        for row in session.scalars(sa.select(UserToken)):
            row.created_at -= passwords.RESET_PAUSE
    services.request_password_reset(world.member.email)
    work()
    assert len(inbox.received) == 2
    second = LINK.search(inbox.received[1].text).group(1)
    signed_in = Browser(app).login(world.member)
    browser = Browser(app)
    assert browser.client.get(first).status_code == 404  # asking again replaced the first link
    browser.get(second)
    before = audit_count()
    browser.post(second, {"new": "another-long-password"}, status=200)
    assert audit_count() == before + 1
    # every session and API token of the person ends
    assert signed_in.client.get("/notifications").status_code == 302
    assert db.session.scalar(sa.select(ApiToken.revoked_at).where(ApiToken.user_id == world.member.id)) is not None
    Browser(app).login(world.member, "another-long-password")
    assert Browser(app).post(second, {"new": "third-long-password"}).status_code == 404


def test_expired_forged_and_used_links_change_nothing(world, people, app, inbox, work):
    people(world)
    services.request_password_reset(world.member.email)
    work()
    path = link_in(inbox, world.member.email)
    stored_hash = db.session.get(User, world.member.id).password_hash
    for bad in ("/password/" + "0" * 64, path[:-1] + ("0" if path[-1] != "0" else "1"), "/password/x" * 3):
        browser = Browser(app)
        assert browser.client.get(bad).status_code == 404
        assert browser.post(bad, {"new": "forged-long-password"}).status_code == 404
    token = db.session.scalar(sa.select(UserToken))
    from app.transactions import write_transaction
    with write_transaction() as session:
        session.get(UserToken, token.id).expires_at = utcnow()
    browser = Browser(app)
    assert browser.client.get(path).status_code == 404
    assert "not valid" in browser.client.get(path).text
    assert db.session.get(User, world.member.id).password_hash == stored_hash


def test_deactivated_people_get_no_reset_mail(world, inbox, work):
    services.set_active(world.superuser, world.member.id, False)
    services.request_password_reset(world.member.email)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mail)) == 0
