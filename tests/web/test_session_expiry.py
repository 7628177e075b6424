"""An ended session keeps what was typed (issue 18, item 8): sign in again and land back on the page
with the text in its form (app/web/stash.py)."""
from __future__ import annotations

import re

from app import services
from tests.conftest import audit_count
from tests.web.browser import PASSWORD


def _lose_the_session(browser):
    """The browser forgets its session cookie, as when it was closed: the form's CSRF token no longer matches."""
    browser.client.delete_cookie("session", domain="ratschlag.test")


def _sign_in_again(browser, location: str, user):
    assert location.startswith("/login?next=")
    browser.get(location)
    answer = browser.client.post(location, data={"csrf_token": browser.token(), "email": user.email, "password": PASSWORD})
    assert answer.status_code == 302
    return answer.headers["Location"]


def test_a_comment_sent_after_the_session_ended_comes_back_after_signing_in(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    member.get(page)
    token = member.token()
    _lose_the_session(member)
    events = audit_count()
    answer = member.client.post(f"{page}/comments", data={"csrf_token": token, "body": "Mein langer Kommentar."},
                                headers={"Referer": f"http://ratschlag.test{page}"})
    assert answer.status_code == 303 and audit_count() == events
    member.get(answer.headers["Location"])
    assert "Your session had ended. Sign in again: what you typed is kept" in member.text  # on the login page
    back = _sign_in_again(member, answer.headers["Location"], world.member)
    assert back == page
    member.get(back)
    assert re.search(r'<textarea id="new-comment"[^>]*>Mein langer Kommentar.</textarea>', member.page.text)
    assert audit_count() == events  # nothing was sent for the person
    member.post(f"{page}/comments", {"body": "Mein langer Kommentar.", "visibility": "public"})
    assert "Your comment is published." in member.text and audit_count() == events + 1


def test_a_reply_and_a_decision_note_come_back_too_and_in_german(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    comment = services.create_comment(rec.id, world.member, "Erster Beitrag")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    admin = browser(world.administrator)
    admin.client.get("/language/de")
    admin.get(page)
    token = admin.token()
    # Signed out elsewhere: the sign-in ends on the server, the session cookie stays.
    services.sign_out_everywhere(world.administrator.id)
    answer = admin.client.post(f"{page}/transition", data={"csrf_token": token, "trigger": "reject", "confirm": "y",
                                                           "note": "Begründung, sorgfältig getippt.", "version": rec.version})
    assert answer.status_code == 303
    admin.get(answer.headers["Location"])
    assert "Ihre Sitzung war abgelaufen. Melden Sie sich erneut an" in admin.text
    back = _sign_in_again(admin, answer.headers["Location"], world.administrator)
    admin.get(back)
    assert ">Begründung, sorgfältig getippt.</textarea>" in admin.page.text and 'value="reject" checked' in admin.page.text
    # A reply, without a Referer: its page is found from the address it was sent to.
    token = admin.token()
    _lose_the_session(admin)
    answer = admin.client.post(f"{page}/comments", data={"csrf_token": token, "body": "Antwort darauf.",
                                                         "parent_id": comment.id})
    back = _sign_in_again(admin, answer.headers["Location"], world.administrator)
    admin.get(back)
    assert re.search(rf'<textarea id="reply-{comment.id}"[^>]*>Antwort darauf.</textarea>', admin.page.text)


def test_a_form_open_too_long_while_signed_in_comes_back_at_once(app, world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "draft")
    edit = f"/processes/{world.process.slug}/recommendations/{rec.number}/edit"
    author = browser(world.author)
    author.get(edit)
    answer = author.client.post(edit, data={"csrf_token": "a-token-from-long-ago", "title": "Neuer Titel",
                                            "body": "Neuer Text", "save": "Save"})
    assert answer.status_code == 303 and answer.headers["Location"] == edit
    author.get(edit)
    assert "This form had been open too long to be accepted. What you typed is back" in author.text
    html = author.page.text
    assert 'value="Neuer Titel"' in html, html[html.find("<main"):]
    assert re.search(r">\s*Neuer Text</textarea>", html)


def test_a_text_too_long_to_keep_is_shown_to_copy(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    member.get(page)
    token = member.token()
    _lose_the_session(member)
    import random
    long_text = " ".join(f"{random.random():.12f}" for _ in range(500))  # does not compress to fit a cookie
    events = audit_count()
    answer = member.client.post(f"{page}/comments", data={"csrf_token": token, "body": long_text})
    assert answer.status_code == 400 and audit_count() == events
    assert long_text.strip() in answer.text and "copy it from here" in answer.text
    assert f'href="/login?next={page.replace("/", "%2F")}"' in answer.text or f'href="/login?next={page}"' in answer.text


def test_other_forms_still_refuse_a_missing_token_plainly(world, people, browser):
    people(world)
    admin = browser(world.superuser)
    answer = admin.client.post("/admin/users", data={"email": "x@example.org", "name": "X"})
    assert answer.status_code == 400 and "The request could not be understood" in answer.text


def test_another_sites_forged_form_is_not_kept(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = member.client.post(f"{page}/comments", data={"body": "Fremder Text"}, headers=headers)
        assert answer.status_code == 400, headers
        member.get(page)
        assert "Fremder Text" not in member.page.text
    # From our own page (as browsers say it), it is kept.
    answer = member.client.post(f"{page}/comments", data={"body": "Eigener Text"},
                                headers={"Origin": "http://ratschlag.test", "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303
    member.get(page)
    assert "Eigener Text" in member.page.text


def test_a_moderators_note_on_a_non_public_item_survives_a_sign_in_that_ended(world, people, browser, rec_in):
    """README: 'A form sent after the session ended ... keeps its text'. On a submitted item (not public)
    the transition view answers 404 to the signed-out person before it keeps anything."""
    people(world)
    rec = rec_in(world, "submitted")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    mod = browser(world.moderator)
    mod.get(page)
    token = mod.token()
    services.sign_out_everywhere(world.moderator.id)  # the sign-in ends on the server, the cookie stays
    events = audit_count()
    answer = mod.client.post(f"{page}/transition", data={"csrf_token": token, "trigger": "start_moderation",
                                                         "note": "Sorgfältig getippte Notiz.", "version": rec.version})
    assert audit_count() == events
    assert answer.status_code == 303, answer.status_code  # reviewed commit: 404, the note is gone
    assert answer.headers["Location"].startswith("/login?next=")


def test_a_wrong_password_on_the_way_back_keeps_the_text(world, people, browser, rec_in):
    """The sign-in refused (a wrong password, twice) keeps its own form for the login page; the text
    kept when the session ended still waits, and comes back after the right password."""
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    member.get(page)
    token = member.token()
    _lose_the_session(member)
    events = audit_count()
    answer = member.client.post(f"{page}/comments", data={"csrf_token": token, "body": "Nicht verlieren, bitte."},
                                headers={"Referer": f"http://ratschlag.test{page}"})
    login = answer.headers["Location"]
    assert answer.status_code == 303 and login.startswith("/login?next=")
    for _attempt in range(2):
        member.get(login)
        refused = member.client.post(login, data={"csrf_token": member.token(), "email": world.member.email,
                                                  "password": "a-wrong-password"})
        assert refused.status_code == 303 and refused.headers["Location"] == login
        member.get(login)
        assert "E-mail or password is wrong." in member.text and f'value="{world.member.email}"' in member.page.text
    back = _sign_in_again(member, login, world.member)
    assert back == page
    member.get(back)
    assert re.search(r'<textarea id="new-comment"[^>]*>Nicht verlieren, bitte.</textarea>', member.page.text)
    member.get(back)  # shown once
    assert "Nicht verlieren, bitte." not in member.page.text
    assert audit_count() == events


def test_a_refusal_after_signing_in_again_replaces_what_was_kept(world, people, browser, rec_in, app):
    """Once signed in, the kept text no longer waits: the next refused form replaces it, as any other
    refusal (the cookie holds the waiting forms and the latest refusal, nothing stale)."""
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    member = browser(world.member)
    member.get(page)
    token = member.token()
    _lose_the_session(member)
    answer = member.client.post(f"{page}/comments", data={"csrf_token": token, "body": "Alter Text."},
                                headers={"Referer": f"http://ratschlag.test{page}"})
    _sign_in_again(member, answer.headers["Location"], world.member)
    member.get("/account/password")
    refused = member.post("/account/password", {"current": "not-my-password", "new": "a-new-long-password"}, follow=False)
    cookie = next(c for c in refused.headers.getlist("Set-Cookie") if c.startswith("session="))
    session = app.session_interface.get_signing_serializer(app).loads(cookie.split(";")[0].partition("=")[2])
    assert [entry["form"] for entry in session["kept"]] == ["password"]
