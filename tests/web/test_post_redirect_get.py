"""Post/redirect/get after every form of the pages, also when it is refused (issue 12, item 13):
the browser ends on a page it can reload and leave by any link, with what was typed kept."""
from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Recommendation, User
from tests.conftest import audit_count
from tests.web.browser import PASSWORD


def test_a_refused_step_redirects_keeps_the_note_and_the_language_switch_works(world, people, rec_in, browser):
    people(world)
    rec = rec_in(world, "in_moderation")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    slow = browser(world.moderator)
    slow.get(page)
    services.fire(rec.id, "forward", world.moderator, None, rec.version)  # meanwhile
    events = audit_count()
    answer = slow.post(f"{page}/transition", {"trigger": "return_to_authors", "version": rec.version,
                                              "note": "Bitte die Frist nennen."}, follow=False)
    assert answer.status_code == 303 and answer.headers["Location"] == page
    slow.get(page)
    assert "Someone else changed this in the meantime." in slow.text
    assert "Your note was not saved" in slow.text and "Bitte die Frist nennen." in slow.text
    assert audit_count() == events
    switch = re.search(r'href="(/language/de\?next=[^"]+)"', slow.page.text).group(1)
    assert "transition" not in switch
    slow.get(switch.replace("&amp;", "&"), status=302)
    slow.get(page)  # in German now, and the kept note is shown once only
    assert "Bitte die Frist nennen." not in slow.text


def test_a_collision_on_the_edit_page_redirects_and_shows_both_texts(world, people, browser):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Title", "one\ntwo\nthree")
    edit = f"/processes/{world.process.slug}/recommendations/{rec.number}/edit"
    slow = browser(world.author)
    slow.get(edit)
    seen = rec.version
    services.update_recommendation(rec.id, world.author, seen, body="one\nTWO\nthree")  # saved first
    answer = slow.post(edit, {"title": "Title", "body": "one\ntwo\nthree\nfour", "version": seen, "save": "Save"},
                       follow=False)
    assert answer.status_code == 303 and answer.headers["Location"] == edit
    slow.get(edit)
    assert "Someone else saved a new version while you were writing." in slow.text
    assert "saved: TWO" in slow.text and "yours: two" in slow.text and "yours: four" in slow.text
    assert re.search(r"<textarea[^>]*>\s*one\ntwo\nthree\nfour</textarea>", slow.page.text)
    current = re.search(r'name="version" type="hidden" value="(\d+)"|type="hidden" name="version" value="(\d+)"|'
                        r'id="version" name="version" type="hidden" value="(\d+)"', slow.page.text)
    version = next(v for v in current.groups() if v)
    db.session.expire_all()
    assert int(version) == db.session.get(Recommendation, rec.id).version  # saving again replaces the new version
    slow.post(edit, {"title": "Title", "body": "one\ntwo\nthree\nfour", "version": version, "save": "Save"}, status=200)
    assert "Your changes are saved" in slow.text
    db.session.expire_all()
    assert db.session.get(Recommendation, rec.id).body == "one\ntwo\nthree\nfour"


def test_form_errors_and_previews_redirect_with_the_text_kept(world, people, browser):
    people(world)
    new = f"/processes/{world.process.slug}/new"
    author = browser(world.author)
    author.get(new)
    answer = author.post(new, {"title": "", "body": "Kept *body*", "save": "Save"}, follow=False)
    assert answer.status_code == 303 and answer.headers["Location"] == new
    author.get(new)
    assert 'id="title-error"' in author.page.text and "Kept *body*</textarea>" in author.page.text
    author.get(new)  # once: a reload shows the empty form
    assert "Kept *body*" not in author.page.text
    author.post(new, {"title": "T", "body": "Kept *body*", "preview": "Preview"}, status=200)
    assert author.redirected_to == new and "<em>body</em>" in author.page.text
    assert db.session.scalar(db.select(db.func.count()).select_from(Recommendation)) == 0


def test_a_refused_report_keeps_its_reason(world, people, rec_in, browser):
    people(world)
    rec = rec_in(world, "steering_review")
    comment = services.create_comment(rec.id, world.member, "Words")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    reporter = browser(world.author)
    reporter.get(page)
    services.hide_comment(comment.id, world.moderator, "Off topic")  # meanwhile
    reporter.post(f"/comments/{comment.id}/report", {"reason": "Beleidigend, bitte prüfen."}, status=200)
    assert reporter.redirected_to == page and "this comment is hidden already" in reporter.text


def test_a_reply_too_long_to_keep_in_the_cookie_is_answered_at_once_with_the_text(world, people, rec_in, browser):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    member.get(page)
    typed = secrets.token_hex(2_250)  # 4,500 characters, over the 4,000 limit, and not compressible
    member.post(f"{page}/comments", {"body": typed}, status=422)
    assert member.redirected_to is None and typed.strip() in member.page.text
    assert "At most 4,000 characters. Please shorten the text." in member.text
    area = re.search(r'<textarea id="new-comment"[^>]*>', member.page.text).group(0)
    assert 'aria-invalid="true"' in area and 'aria-describedby="new-comment-error"' in area  # said at the field
    # Kept in the session (post/redirect/get): the reason is at the field on the page after the redirect too.
    comment = services.create_comment(rec.id, world.author, "Worauf antworte ich?")
    member.post(f"{page}/comments", {"body": "x" * 4_001, "parent_id": str(comment.id)}, status=200)
    assert member.redirected_to == page
    reply = re.search(rf'<textarea id="reply-{comment.id}"[^>]*>', member.page.text).group(0)
    assert 'aria-invalid="true"' in reply and f'id="reply-{comment.id}-error"' in member.page.text


def test_a_refused_admin_form_redirects_with_what_was_typed(world, people, browser):
    people(world)
    admin = browser(world.superuser)
    admin.get("/admin/users")
    users = db.session.scalar(db.select(db.func.count()).select_from(User))
    admin.post("/admin/users", {"email": world.member.email, "name": "Doppelt Angelegt"}, status=200)
    assert admin.redirected_to == "/admin/users" and "exists already" in admin.text
    assert 'value="Doppelt Angelegt"' in admin.page.text
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == users


def test_an_address_that_only_takes_forms_explains_a_visit(world, rec_in, client):
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    response = client.get(f"{page}/transition")
    assert response.status_code == 405 and "POST" in response.headers["Allow"] and "GET" not in response.headers["Allow"]
    assert "only receives forms that are sent from a page" in response.text
    assert f'href="{page}"' in response.text  # the page the address belongs to
    german = client.get(f"{page}/transition", headers={"Accept-Language": "de"})
    assert german.status_code == 405 and "nimmt nur Formulare an" in german.text


def test_kept_forms_find_their_page_when_served_under_a_path(world, people, browser):
    people(world)
    new = f"/processes/{world.process.slug}/new"
    author = browser(world.author)
    author.get(new)
    under = {"base_url": "http://ratschlag.test/ratschlag"}
    answer = author.client.post(new, data={"csrf_token": author.token(), "title": "", "body": "Kept under a prefix",
                                           "save": "Save"}, **under)
    assert answer.status_code == 303 and answer.headers["Location"] == f"/ratschlag{new}"
    page = author.client.get(new, **under)
    assert "Kept under a prefix</textarea>" in page.text


def test_a_refused_decision_in_a_session_redirects_and_keeps_the_justification(world, people, rec_in, browser):
    people(world)
    rec = rec_in(world, "steering_review")
    meeting = services.create_session(world.process.id, world.administrator, "Sitzung", "2026-03-01T18:00")
    services.add_to_agenda(meeting.id, world.administrator, rec.id)
    admin = browser(world.administrator)
    page = f"/sessions/{meeting.id}"
    admin.get(page)
    events = audit_count()
    answer = admin.post(f"{page}/decide/{rec.id}", {f"i{rec.id}-trigger": "reject", f"i{rec.id}-note": "Zu teuer für 2026.",
                                                   f"i{rec.id}-version": "999"}, follow=False)
    assert answer.status_code == 303 and answer.headers["Location"] == f"{page}#item-{rec.id}"
    admin.get(page, status=422)
    assert "Zu teuer für 2026." in admin.page.text and audit_count() == events
    admin.get(page)  # kept once: a reload shows the form as the page offers it
    assert "Zu teuer für 2026." not in admin.page.text


def switch_language(visitor) -> None:
    """Follow the page's language switch to German: it must lead back to a page, never to a 405."""
    switch = re.search(r'href="(/language/de\?next=[^"]+)"', visitor.page.text).group(1).replace("&amp;", "&")
    answer = visitor.client.get(switch, follow_redirects=True)
    assert answer.status_code == 200, answer.status_code
    visitor.page = answer


def test_a_refused_sign_in_redirects_keeps_the_address_never_the_password(world, people, browser, app):
    people(world)
    visitor = browser()
    visitor.get("/login?next=/my")
    answer = visitor.post("/login?next=/my", {"email": world.author.email, "password": "wrong-password-42"}, follow=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/login?next=/my"
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    session = app.session_interface.get_signing_serializer(app).loads(cookie.split(";")[0].partition("=")[2])
    assert [entry["fields"] for entry in session["kept"]] == [{"email": [world.author.email]}]  # the password is not kept, even signed
    page = visitor.get("/login?next=/my")
    assert 'id="password-error"' in page.text and "E-mail or password is wrong." in page.text
    assert 'aria-describedby="password-error"' in page.text  # at the field
    assert f'value="{world.author.email}"' in page.text
    assert "wrong-password-42" not in page.text
    switch_language(visitor)
    assert visitor.page.request.path == "/login" and 'id="password-error"' not in visitor.page.text  # shown once
    # An empty form: the errors at their fields, after a redirect too.
    visitor.get("/login")
    visitor.post("/login", {"email": "", "password": ""})
    assert visitor.redirected_to == "/login"
    assert 'id="email-error"' in visitor.page.text and 'id="password-error"' in visitor.page.text
    # And the right password still signs in, to the page asked for.
    visitor.post("/login?next=/my", {"email": world.author.email, "password": PASSWORD})
    assert visitor.page.request.path == "/my"


def test_a_refused_password_change_redirects_with_the_errors_and_keeps_no_password(world, people, browser):
    people(world)
    author = browser(world.author)
    author.get("/account/password")
    answer = author.post("/account/password", {"current": "not-my-password", "new": "a-new-long-password"}, follow=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/account/password"
    page = author.get("/account/password")
    assert 'id="current-error"' in page.text and "The current password is wrong." in page.text
    assert "not-my-password" not in page.text and "a-new-long-password" not in page.text
    author.post("/account/password", {"current": PASSWORD, "new": "short"})
    assert author.redirected_to == "/account/password"
    assert 'id="new-error"' in author.page.text and "At least 10 characters." in author.page.text
    switch_language(author)
    assert author.page.request.path == "/account/password"
    db.session.expire_all()
    assert services.find_user(world.author.email).password_hash == db.session.get(User, world.author.id).password_hash


def test_the_forgotten_and_new_password_forms_redirect_when_refused(world, people, browser):
    from app.models import UserToken
    from app.services.passwords import link_secret

    people(world)
    visitor = browser()
    visitor.get("/password/forgot")
    visitor.post("/password/forgot", {"email": "x" * 250 + "@example.org"})
    assert visitor.redirected_to == "/password/forgot" and 'id="email-error"' in visitor.page.text
    assert "x" * 250 + "@example.org" in visitor.page.text  # kept, to correct
    switch_language(visitor)
    assert visitor.page.request.path == "/password/forgot"
    services.request_password_reset(world.member.email)
    token = db.session.scalars(sa.select(UserToken).where(UserToken.user_id == world.member.id)).one()
    link = f"/password/{link_secret(token)}"
    reset = browser()
    reset.get(link)
    reset.post(link, {"new": "short"})
    assert reset.redirected_to == link and 'id="new-error"' in reset.page.text and "At least 10 characters." in reset.page.text
    switch_language(reset)
    assert reset.page.request.path == link
    reset.post(link, {"new": "a-brand-new-password"})
    assert reset.page.request.path == "/login"
    browser().login(world.member, password="a-brand-new-password")
