"""Comment threads, the work queues, administration and accounts, through the browser."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import AuditEvent, CommentReport, CommentRevision, User
from tests.conftest import audit_count
from tests.web.browser import PASSWORD, Browser


def last_event() -> AuditEvent:
    db.session.rollback()
    return db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()


def test_replies_nest_then_continue_flat(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    parent = None
    for depth in range(7):
        parent = services.create_comment(rec.id, world.member if depth % 2 else world.author, f"Ebene {depth}", parent.id if parent else None)
    page = browser(world.member).get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    depths = [int(d) for d in re.findall(r'class="comment depth-(\d)', page.text)]
    assert depths == [0, 1, 2, 3, 4, 4, 4]
    assert page.text.count("in reply to") == 2  # the two beyond the deepest level say whom they answer


def test_reply_edit_report_and_dismiss(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    member.get(page)
    member.post(f"{page}/comments", {"body": "Erster Gedanke"}, status=200)
    assert "Your comment is published." in member.text and "Erster Gedanke" in member.text
    first = last_event().subject_id
    author = browser(world.author)
    author.get(page)
    author.post(f"{page}/comments", {"body": "Eine Antwort", "parent_id": first}, status=200)
    assert last_event().action == "comment.created"

    member.get(f"/comments/{first}/edit")
    member.post(f"/comments/{first}/edit", {"body": "Erster, besserer Gedanke"}, status=200)
    assert "Erster, besserer Gedanke" in member.text and "edited" in member.text
    assert db.session.scalars(sa.select(CommentRevision.body)).all() == ["Erster Gedanke"]
    assert last_event().action == "comment.edited"

    author.get(page)
    author.post(f"/comments/{first}/report", {"reason": "Beleidigend"}, status=200)
    assert "Moderation will look at this comment." in author.text
    moderator = browser(world.moderator)
    moderator.get("/moderation")
    assert "Beleidigend" in moderator.text and f"Comment by {world.member.name}" in moderator.text
    moderator.get(page)
    assert "Reported to moderation" in moderator.text
    report = db.session.scalars(sa.select(CommentReport)).one()
    moderator.post(f"/reports/{report.id}/dismiss", status=200)
    assert "The report is dismissed" in moderator.text
    moderator.get("/moderation")
    assert "No open reports." in moderator.text
    # the member reads neither the report nor its dismissal in the timeline; moderators do
    member.get(page)
    assert "reported a comment" not in member.text
    assert "reported a comment to moderation" in moderator.get(page).text


def test_hiding_closes_its_reports_and_shows_the_reason(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    comment = services.create_comment(rec.id, world.member, "Unsachlich!!!")
    services.report_comment(comment.id, world.author, "Bitte prüfen")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    moderator = browser(world.moderator)
    moderator.get(page)
    moderator.post(f"/comments/{comment.id}/hide", {"reason": ""}, status=200)
    assert "Hiding a comment needs a reason" in moderator.text
    moderator.post(f"/comments/{comment.id}/hide", {"reason": "Regel 2: sachlich bleiben"}, status=200)
    assert db.session.scalars(sa.select(CommentReport.resolved_at)).one() is not None
    visitor = browser().get(page)
    assert "Hidden by moderation: Regel 2: sachlich bleiben" in visitor.text and "Unsachlich!!!" not in visitor.text


def test_queues_show_what_waits_for_whom(world, people, browser, rec_in):
    people(world)
    first = rec_in(world, "in_moderation", title="Älter in Moderation")
    rec_in(world, "submitted", title="Frisch eingereicht")
    review = rec_in(world, "steering_review", title="In der Runde")
    rec_in(world, "adopted", title="Schon entschieden")
    mine = browser(world.author).get("/my")
    for title in ("Älter in Moderation", "Frisch eingereicht", "In der Runde", "Schon entschieden"):
        assert title in mine.text
    moderation = browser(world.moderator).get("/moderation").text
    assert moderation.index("Älter in Moderation") < moderation.index("Frisch eingereicht")
    assert "In der Runde" not in moderation and "Schon entschieden" not in moderation
    steering = browser(world.administrator)
    steering.get("/steering")
    assert "In der Runde" in steering.text and "Älter in Moderation" not in steering.text
    assert 'class="overdue"' not in steering.page.text
    db.session.execute(sa.text("UPDATE recommendations SET due_at = '2020-01-01 00:00:00' WHERE id = :id"), {"id": review.id})
    db.session.commit()
    assert '<strong class="overdue">overdue</strong>' in browser(world.administrator).get("/steering").text
    front = browser().get("/").text
    assert "Waiting too long for an answer" in front and "In der Runde" in front.split("Waiting too long")[1]
    assert "You moderate no process." in browser(world.member).get("/moderation").text
    assert first.number == 1


def test_process_page_filters_searches_sorts_and_pages(world, people, browser, rec_in):
    people(world)
    for index in range(23):
        rec_in(world, "steering_review", title=f"Empfehlung {index:02d}")
    rec_in(world, "adopted", title="Angenommene 100%_Sache")
    slug = world.process.slug
    visitor = browser()
    page = visitor.get(f"/processes/{slug}").text
    assert "24 recommendations" in page and "Page 1 of 2" in page
    assert "Steering round review (23)" in visitor.page.text  # the diagram counts
    assert "Empfehlung 22" not in page
    assert "Empfehlung 22" in visitor.get(f"/processes/{slug}?page=2").text
    assert "1 recommendation" in visitor.get(f"/processes/{slug}?state=adopted").text
    found = visitor.get(f"/processes/{slug}?q=100%25_").text  # LIKE wildcards are searched as text
    assert "1 recommendation" in found and "Angenommene 100%_Sache" in found
    assert "0 recommendations" in visitor.get(f"/processes/{slug}?q=%25%25").text  # no title holds "%%"
    newest = visitor.get(f"/processes/{slug}?sort=-number").text
    assert newest.index("Angenommene") < newest.index("Empfehlung 22")
    assert "24 recommendations" in visitor.get(f"/processes/{slug}?author={world.author.id}").text
    assert "0 recommendations" in visitor.get(f"/processes/{slug}?author={world.member.id}").text
    for bad in ("page=0", "page=-1", "page=abc", "page=99999999999"):
        assert visitor.client.get(f"/processes/{slug}?{bad}").status_code == 400


def test_administration_of_people_processes_and_roles(world, people, browser):
    people(world)
    admin = browser(world.superuser)
    admin.get("/admin/users")
    admin.post("/admin/users", {"email": "neu@example.org", "name": "Neue Person"}, status=200)
    password = re.search(r"with the password (\S+)\. It is shown only now", admin.text).group(1)
    assert last_event().action == "user.created"
    newcomer = services.find_user("neu@example.org")
    Browser(admin.client.application).login(newcomer, password)

    admin.get("/admin/processes")
    admin.post("/admin/processes", {"slug": "anliegen", "title": "Anliegen", "workflow": "citizen-concern"}, status=200)
    assert "The process “Anliegen” is created" in admin.text
    admin.post("/admin/processes/anliegen", {"user_id": newcomer.id, "role": "moderator"}, status=200)
    assert f"{newcomer.name} is now moderator." in admin.text
    assert last_event().action == "membership.granted"
    membership_id = re.search(r"/admin/processes/anliegen/memberships/(\d+)/revoke", admin.page.text).group(1)
    events = audit_count()
    admin.post(f"/admin/processes/anliegen/memberships/{membership_id}/revoke", status=200)  # not confirmed yet
    assert admin.redirected_to == f"/admin/processes/anliegen/memberships/{membership_id}/revoke"
    assert f"Revoke moderator from {newcomer.name}?" in admin.text and audit_count() == events
    admin.post(f"/admin/processes/anliegen/memberships/{membership_id}/revoke", {"confirm": "yes"}, status=200)
    assert f"{newcomer.name} is no longer moderator." in admin.text
    assert last_event().action == "membership.revoked"

    admin.get("/admin/audit?action=membership.revoked")
    rows = admin.text.split("About Data")[1]
    assert "membership.revoked" in rows and "user.created" not in rows
    assert f"Role in a process {membership_id}" in rows and f"membership {membership_id}" not in rows  # words, not codes
    admin.get(f"/admin/audit?actor={world.superuser.id}&from=2000-01-01")
    rows = admin.text.split("About Data")[1]
    assert "process.created" in rows and "token.created" not in rows
    admin.get("/admin/audit?to=2000-01-01")
    assert "No events match." in admin.text
    assert admin.client.get("/admin/audit?from=yesterday").status_code == 400
    admin.get("/admin/audit/verify")
    assert "has not been checked yet" in admin.text


def test_deactivation_ends_sessions_and_tokens_at_once(world, people, browser, client):
    people(world)
    member = browser(world.member)
    token = services.create_token(world.member, "script")
    admin = browser(world.superuser)
    admin.get("/admin/users")
    # A confirmation page first, saying what it does; nothing changes until it is confirmed.
    assert f'href="/admin/users/{world.member.id}/deactivate"' in admin.page.text
    events = audit_count()
    admin.post(f"/admin/users/{world.member.id}/deactivate", status=200)
    assert admin.redirected_to == f"/admin/users/{world.member.id}/deactivate" and audit_count() == events
    assert "their sessions and API tokens stop working at once" in admin.text and "Member" in member.get("/").text
    admin.client.get("/language/de")
    admin.get(f"/admin/users/{world.member.id}/deactivate")
    assert "Member deaktivieren?" in admin.text
    admin.client.get("/language/en")
    admin.post(f"/admin/users/{world.member.id}/deactivate", {"confirm": "yes"}, status=200)
    assert "is deactivated" in admin.text and last_event().action == "user.deactivated"
    assert "Sign in" in member.get("/").text  # the open session ended
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = Browser(admin.client.application)
    again.get("/login")
    again.post("/login", {"email": world.member.email, "password": PASSWORD}, status=200)
    assert "E-mail or password is wrong." in again.text
    admin.post(f"/admin/users/{world.superuser.id}/deactivate", {"confirm": "yes"}, status=200)
    assert "you cannot deactivate your own account" in admin.text


def test_password_change_ends_the_other_sessions(world, people, browser, app):
    people(world)
    here = browser(world.member)
    elsewhere = browser(world.member)
    remembered = Browser(app)
    remembered.get("/login")
    remembered.post("/login", {"email": world.member.email, "password": PASSWORD, "remember": "y"}, status=200)
    here.get("/account/password")
    here.post("/account/password", {"current": "wrong-password-123", "new": "a-new-long-password"}, status=200)
    assert "The current password is wrong." in here.text
    here.post("/account/password", {"current": PASSWORD, "new": "short"}, status=200)
    assert "At least 10 characters." in here.text
    here.post("/account/password", {"current": PASSWORD, "new": "a-new-long-password"}, status=200)
    assert "You were signed out everywhere else." in here.text
    assert world.member.name in here.get("/").text
    assert "Sign in" in elsewhere.get("/").text
    remembered.client.delete_cookie("session")
    assert "Sign in" in remembered.get("/").text  # the remember-me cookie is no key any more
    assert last_event().action == "user.password_changed"
    assert '"password' not in last_event().data


def test_remember_me_survives_the_end_of_the_browser_session(world, people, app):
    people(world)
    browser = Browser(app)
    browser.get("/login")
    browser.post("/login", {"email": world.member.email, "password": PASSWORD, "remember": "y"}, status=200)
    browser.client.delete_cookie("session")
    assert world.member.name in browser.get("/").text
    browser.post("/logout", status=200)
    browser.client.delete_cookie("session")
    assert "Sign in" in browser.get("/").text


def test_co_authors_are_invited_from_the_process_members(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "draft")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    author = browser(world.author)
    author.get(f"{page}/authors?q=o")  # the search lists the process's members only
    listed = re.findall(r'name="user_id" value="(\d+)"', author.page.text)
    assert str(world.coauthor.id) in listed and str(world.outsider.id) not in listed
    author.post(f"{page}/authors", {"user_id": world.coauthor.id}, status=200)
    assert f"{world.coauthor.name} is now a co-author and has been told." in author.text
    coauthor = browser(world.coauthor).get(f"{page}/edit")
    assert coauthor.status_code == 200
    events = audit_count()
    author.get(page)
    author.post(f"{page}/authors", {"user_id": world.outsider.id}, status=200)
    assert "is not a member of this process" in author.text and audit_count() == events
    assert db.session.get(User, world.coauthor.id) is not None
