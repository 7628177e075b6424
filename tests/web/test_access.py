"""Who may open each page and send each form; a refused post changes nothing; no post without CSRF."""
from __future__ import annotations

import pytest

from app import services
from app.notify.text import unread_count
from tests.conftest import audit_count
from tests.web.browser import Browser

ROLES = ["anonymous", "outsider", "superuser", "member", "author", "moderator", "administrator"]
SIGNED_IN = ROLES[1:]


@pytest.fixture
def site(world, people, rec_in, api):
    people(world)
    public = rec_in(world, "steering_review")
    draft = rec_in(world, "draft", title="Draft")
    comment = api.post(f"/recommendations/{public.id}/comments", world.member, json={"body": "Ein Kommentar"}).json
    report = services.report_comment(comment["id"], world.author, "Unfreundlich")
    return {"world": world, "public": public, "draft": draft, "comment": comment["id"], "report": report.id,
            "slug": world.process.slug}


def expect(site, role: str, allowed: set[str], refused: int = 403) -> int:
    if role in allowed:
        return 200
    return 302 if role == "anonymous" else refused


def pages(site):
    slug, public, draft = site["slug"], site["public"].number, site["draft"].number
    member_roles = {"member", "author", "moderator", "administrator"}
    return [
        ("/", set(ROLES), 200),
        (f"/processes/{slug}", set(ROLES), 200),
        (f"/processes/{slug}/recommendations/{public}", set(ROLES), 200),
        (f"/processes/{slug}/recommendations/{public}/versions", set(ROLES), 200),
        (f"/processes/{slug}/recommendations/{draft}", {"author", "moderator"}, 404),
        (f"/processes/{slug}/recommendations/{draft}/versions", {"author", "moderator"}, 404),
        (f"/processes/{slug}/new", member_roles, 403),
        (f"/processes/{slug}/recommendations/{draft}/edit", {"author"}, None),
        ("/my", set(SIGNED_IN), None), ("/moderation", set(SIGNED_IN), None), ("/steering", set(SIGNED_IN), None),
        ("/account/password", set(SIGNED_IN), None),
        (f"/comments/{site['comment']}/edit", {"member"}, 403),
        ("/admin/users", {"superuser"}, 403), ("/admin/processes", {"superuser"}, 403),
        (f"/admin/processes/{slug}", {"superuser"}, 403), ("/admin/audit", {"superuser"}, 403),
        ("/admin/audit/verify", {"superuser"}, 403),
        ("/home", set(SIGNED_IN), None), ("/notifications", set(SIGNED_IN), None),
        ("/notifications/settings", set(SIGNED_IN), None), ("/admin/outbox", {"superuser"}, 403),
        (f"/admin/users/{site['world'].member.id}/erase", {"superuser"}, 403),
    ]


def test_who_may_open_each_page(app, site):
    world = site["world"]
    for role in ROLES:
        browser = Browser(app)
        if role != "anonymous":
            browser.login(world.by_role(role))
        for url, allowed, refused in pages(site):
            response = browser.client.get(url)
            if role in allowed:
                expected = 200
            elif role == "anonymous" and refused != 404 and url not in ("/", f"/processes/{site['slug']}"):
                expected = 302
            elif url.endswith("/edit") and role in ("moderator",):
                expected = 403  # may see the draft, may not edit it
            else:
                expected = refused or 404
            assert response.status_code == expected, (role, url, response.status_code)
            if expected == 302:
                assert response.headers["Location"].startswith("/login?next=")


def test_forbidden_posts_are_refused_and_change_nothing(app, site):
    world, slug, public = site["world"], site["slug"], site["public"]
    page = f"/processes/{slug}/recommendations/{public.number}"
    member = Browser(app).login(world.member)
    member.get(page)
    events = audit_count()
    refused = [
        # A refused step goes back to the page (post/redirect/get), which says so and keeps the note.
        (f"{page}/transition", {"trigger": "adopt", "version": public.version, "note": "Mine", "confirm": "y"}, 200),
        (f"/comments/{site['comment']}/hide", {"reason": "Weg damit"}, 403),
        (f"/reports/{site['report']}/dismiss", {}, 403),
        (f"{page}/authors", {"user_id": world.member.id}, 403),
        ("/admin/users", {"email": "new@example.org", "name": "New"}, 403),
        ("/admin/processes", {"slug": "new", "title": "New", "workflow": "citizen-concern"}, 403),
        (f"/admin/users/{world.author.id}/deactivate", {}, 403),
        (f"/admin/users/{world.author.id}/erase", {"confirm": world.author.email}, 403),
        (f"/processes/{slug}/recommendations/{site['draft'].number}/transition", {"trigger": "submit", "version": 1}, 404),
        ("/admin/users/invite", {"invite-email": "invited@example.org", "invite-name": "Invited"}, 403),
        (f"/processes/{slug}/recommendations/{site['draft'].number}/follow", {}, 404),
        ("/admin/audit/verify", {}, 403),
    ]
    for url, data, status in refused:
        response = member.post(url, data)
        assert response.status_code == status, (url, response.status_code)
        if url.endswith("/transition") and status == 200:
            assert member.redirected_to == page and "You may not do this." in member.text
    outsider = Browser(app).login(world.outsider)
    outsider.get(f"/processes/{slug}")
    assert outsider.post(f"/processes/{slug}/new", {"title": "T", "body": "B", "save": "Save"}).status_code == 403
    moderator = Browser(app).login(world.moderator)
    moderator.get(page)
    assert moderator.post(f"/comments/{site['comment']}/edit", {"body": "Umgeschrieben"}).status_code == 403
    assert audit_count() == events
    from app.extensions import db
    from app.models import Comment, Recommendation, User
    db.session.rollback()
    assert db.session.get(Recommendation, public.id).state == "steering_review"
    assert db.session.get(Comment, site["comment"]).body == "Ein Kommentar" and not db.session.get(Comment, site["comment"]).hidden
    assert services.find_user("new@example.org") is None and db.session.get(User, world.author.id).active
    assert services.find_user("invited@example.org") is None
    assert not services.follows(world.member.id, recommendation_id=site["draft"].id)
    assert db.session.get(User, world.author.id).erased_at is None and db.session.get(User, world.author.id).email
    assert services.chain_checks.waiting() is None


def test_no_post_without_its_csrf_token(app, site):
    world, slug, public = site["world"], site["slug"], site["public"]
    page = f"/processes/{slug}/recommendations/{public.number}"
    superuser = Browser(app).login(world.superuser)
    moderator = Browser(app).login(world.moderator)
    events = audit_count()
    posts = [
        (moderator, f"{page}/transition", {"trigger": "send_back", "version": public.version, "note": "x"}),
        (moderator, f"{page}/comments", {"body": "Ohne Token"}),
        (moderator, f"/comments/{site['comment']}/hide", {"reason": "x"}),
        (moderator, f"/comments/{site['comment']}/report", {"reason": "x"}),
        (moderator, f"/reports/{site['report']}/dismiss", {}),
        (moderator, "/account/password", {"current": "a-long-test-password", "new": "another-long-password"}),
        (superuser, "/admin/users", {"email": "csrf@example.org", "name": "Csrf"}),
        (superuser, f"/admin/users/{world.member.id}/deactivate", {"confirm": "yes"}),
        (superuser, f"/admin/users/{world.member.id}/erase", {"confirm": world.member.email}),
        (superuser, "/admin/processes", {"slug": "csrf", "title": "Csrf", "workflow": "citizen-concern"}),
        (superuser, f"/admin/processes/{slug}", {"user_id": world.outsider.id, "role": "member"}),
        (moderator, "/account/sign-out-everywhere", {}),
        (superuser, "/admin/users/invite", {"invite-email": "csrf@example.org", "invite-name": "Csrf"}),
        (superuser, "/admin/audit/verify", {}),
        (moderator, "/notifications/read", {}),
        (moderator, "/notifications/settings", {"your_turn": "off"}),
        (moderator, f"{page}/follow", {}),
        (moderator, f"/processes/{slug}/follow", {}),
        (moderator, "/password/forgot", {"email": world.moderator.email}),
        (moderator, "/logout", {}),
    ]
    # Forms whose text is kept for another try (app/web/stash.py): refused all the same, back to the page.
    keeping = {f"{page}/transition", f"{page}/comments", f"/comments/{site['comment']}/hide",
               f"/comments/{site['comment']}/report"}
    for browser, url, data in posts:
        response = browser.client.post(url, data=data)
        if url in keeping:
            assert response.status_code == 303 and response.headers["Location"].endswith(page), (url, response.status_code)
            browser.client.get(page)  # shows the kept text once
            continue
        assert response.status_code == 400, (url, response.status_code)
        assert "The request could not be understood" in response.text
    assert audit_count() == events
    assert services.notification_modes(world.moderator.id)["your_turn"] == "immediate"
    assert not services.follows(world.moderator.id, recommendation_id=public.id)
    assert unread_count(world.moderator.id) > 0  # the report; nothing was marked read
    assert world.moderator.name in moderator.get("/").text  # still signed in after the refused logout
