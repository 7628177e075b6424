"""An ended session keeps what was typed (issue 18, item 8): sign in again and land back on the page
with the text in its form (app/web/stash.py)."""
from __future__ import annotations

import re

from app import services
from app.extensions import db
from app.models import Statement, Submission
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


def _sent_signed_out(visitor, page: str, action: str, data: dict, user, *, lose_cookie: bool, referer: bool = True):
    """Open ``page``, end the session (the cookie lost, or the sign-in ended elsewhere), send the form
    to ``action``, sign in again; returns the page the person lands on, its text as the visitor sees it."""
    visitor.get(page)
    token = visitor.token()
    if lose_cookie:
        _lose_the_session(visitor)
    else:
        services.sign_out_everywhere(user.id)
    events = audit_count()
    headers = {"Referer": f"http://ratschlag.test{page}"} if referer else {}
    answer = visitor.client.post(action, data={"csrf_token": token, **data}, headers=headers)
    assert answer.status_code == 303, (action, answer.status_code)
    back = _sign_in_again(visitor, answer.headers["Location"], user)
    assert back == page.partition("#")[0]
    landed = visitor.get(back)
    assert audit_count() == events  # nothing was written for the person
    return landed


def test_a_statement_request_and_answer_come_back_after_signing_in(world, people, browser, rec_in, make_user):
    """The statement forms were not kept: signed out elsewhere, the request answered 405 after the sign-in."""
    from tests.web.test_statements_pages import _departments, _login

    people(world)
    planner, _social = _departments(make_user)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    admin = browser(world.administrator)
    _sent_signed_out(admin, page, f"{page}/statements",
                     {"department": "sozialamt", "question": "Ist das barrierefrei machbar?", "due_days": "9"},
                     world.administrator, lose_cookie=False)
    html = admin.page.text
    assert re.search(r'<textarea[^>]*name="question"[^>]*>\s*Ist das barrierefrei machbar\?</textarea>', html)
    assert 'value="9"' in html and re.search(r'<option selected value="sozialamt"|<option value="sozialamt" selected', html)
    admin.post(f"{page}/statements", {"department": "stadtplanung", "question": "Machbar?", "due_days": "14"})
    assert "Stadtentwicklungsamt is asked for a statement." in admin.text
    statement = db.session.scalars(db.select(Statement)).one()
    # The department's answer, its cookie lost and no Referer: the page is found from the statement.
    member = _login(browser, people, planner)
    _sent_signed_out(member, page, f"/statements/{statement.id}/answer",
                     {f"s{statement.id}-body": "Ja, mit zwei Stellen mehr.", f"s{statement.id}-visibility": "internal"},
                     planner, lose_cookie=True, referer=False)
    html = member.page.text
    assert re.search(rf'<textarea[^>]*name="s{statement.id}-body"[^>]*>\s*Ja, mit zwei Stellen mehr.</textarea>', html)
    assert re.search(r'<option selected value="internal"|<option value="internal" selected', html)


def test_a_follow_up_report_comes_back_after_signing_in(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "adopted")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    for lose_cookie in (True, False):
        admin = browser(world.administrator)
        landed = _sent_signed_out(admin, page, f"{page}/follow-ups",
                                  {"status": "stalled", "body": "Der Aushang fehlt noch.", "next_days": "21", "department": ""},
                                  world.administrator, lose_cookie=lose_cookie)
        assert landed.status_code == 200  # nothing was wrong with it
        assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*Der Aushang fehlt noch.</textarea>', landed.text)
        assert 'value="21"' in landed.text
        assert re.search(r'<option selected value="stalled"|<option value="stalled" selected', landed.text)


def test_minutes_templates_and_overview_come_back_after_signing_in(world, people, browser):
    people(world)
    meeting = services.create_session(world.process.id, world.administrator, "4. Sitzung", "2026-05-04T18:00")
    admin = browser(world.administrator)
    _sent_signed_out(admin, f"/sessions/{meeting.id}", f"/sessions/{meeting.id}/minutes",
                     {"place": "Rathaus, Saal 2", "participants": "Anna, Ben", "notes": "Beschlossen wurde …"},
                     world.administrator, lose_cookie=True)
    assert ">Beschlossen wurde …</textarea>" in admin.page.text.replace("\n", "") or re.search(
        r">\s*Beschlossen wurde …</textarea>", admin.page.text)
    assert 'value="Rathaus, Saal 2"' in admin.page.text
    templates = f"/processes/{world.process.slug}/answer-templates"
    _sent_signed_out(admin, templates, templates, {"template-adopted": "Wir nehmen an, weil die Mehrheit …"},
                     world.administrator, lose_cookie=False)
    assert "Wir nehmen an, weil die Mehrheit …" in admin.page.text
    overview = f"/processes/{world.process.slug}/overview"
    superuser = browser(world.superuser)
    landed = _sent_signed_out(superuser, overview, overview,
                              {"description": "Ein sorgfältiger Text über das Vorhaben.", "status": "running",
                               "starts_on": "2026-01-01", "ends_on": "", "participation": "consult", "contact": "",
                               "links": ""}, world.superuser, lose_cookie=True)
    assert landed.status_code == 200 and "Ein sorgfältiger Text über das Vorhaben." in landed.text
    assert 'value="2026-01-01"' in landed.text


def test_a_kept_text_waits_for_its_own_person_and_survives_a_visit_on_the_way(world, people, browser, rec_in):
    """Kept for the person whose sign-in ended: a visit of the page while still signed out does not use
    it up, and on a shared computer the next person to sign in does not get it."""
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    shared = browser(world.member)
    shared.get(page)
    token = shared.token()
    services.sign_out_everywhere(world.member.id)  # the sign-in ends on the server, the cookie stays
    answer = shared.client.post(f"{page}/comments", data={"csrf_token": token, "body": "Nur für mich getippt."},
                                headers={"Referer": f"http://ratschlag.test{page}"})
    assert answer.status_code == 303
    shared.get(page)  # back from the login page, still signed out
    assert "Nur für mich getippt." not in shared.page.text
    back = _sign_in_again(shared, answer.headers["Location"], world.moderator)  # someone else signs in
    shared.get(back)
    assert "Nur für mich getippt." not in shared.page.text


def test_an_internal_note_comes_back_in_the_internal_box_without_a_referer(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    page = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    mod = browser(world.moderator)
    mod.get(page + "?tab=internal")
    token = mod.token()
    services.sign_out_everywhere(world.moderator.id)
    answer = mod.client.post(f"{page}/comments", data={"csrf_token": token, "body": "Nur intern: Budget offen.",
                                                       "visibility": "internal"})  # no Referer (a privacy setting)
    assert answer.status_code == 303
    back = _sign_in_again(mod, answer.headers["Location"], world.moderator)
    assert back == page + "?tab=internal"
    mod.get(back)
    box = re.search(r'<form[^>]*class="new-comment".*?</form>', mod.page.text, re.S).group(0)
    assert 'value="internal"' in box and "Nur intern: Budget offen." in box and "Save note" in box


def test_a_residents_concern_and_a_new_session_come_back_too(world, people, browser, concern_world, app):
    """The public intake form (no account: back on the page at once, not via the login page) and the
    form that creates a steering-round session answered a bare 400 and lost what was typed."""
    from tests.web.browser import Browser
    slug = concern_world.process.slug
    resident = Browser(app)
    resident.get(f"/processes/{slug}")
    token = resident.token()
    _lose_the_session(resident)
    answer = resident.client.post(f"/processes/{slug}/submissions", data={
        "csrf_token": token, "email": "anwohnerin@example.org", "title": "Laterne", "body": "Seit Wochen dunkel.",
        "website": "", "started": "x"}, headers={"Referer": f"http://ratschlag.test/processes/{slug}"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/processes/{slug}"
    resident.get(answer.headers["Location"])
    assert "Seit Wochen dunkel." in resident.page.text and 'value="Laterne"' in resident.page.text
    assert db.session.scalar(db.select(db.func.count()).select_from(Submission)) == 0

    people(world)
    page = f"/processes/{world.process.slug}/sessions"
    landed = _sent_signed_out(browser(world.administrator), page, page,
                              {"title": "5. Sitzung", "held_at": "2026-06-01T18:00", "place": "Rathaus"},
                              world.administrator, lose_cookie=False)
    assert 'value="5. Sitzung"' in landed.text and 'value="Rathaus"' in landed.text
