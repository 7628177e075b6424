"""The recommendation page at ``html_url``: what it shows, to whom, and that it is safe."""
from __future__ import annotations

import re

import pytest

from app import services
from app.services import fire
from tests.html_safety import executable_parts, without_own_scripts
from tests.web.browser import text_of

PAGE_TAGS = {"link", "meta", "form", "input", "button", "svg"}  # svg: the header's logo mark
PASSWORD = "a-long-test-password"


def login(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": token, "email": email, "password": password})


def page_of(client, rec):
    return client.get(f"/processes/{rec.process_slug}/recommendations/{rec.number}")


@pytest.fixture
def decided(world, rec_in, api):
    rec = rec_in(world, "steering_review", title="Anlaufstelle für Beteiligung", body="Eine **Anlaufstelle** im Bezirk.")
    base = f"/recommendations/{rec.id}/comments"
    first = api.post(base, world.member, json={"body": "Wo genau?"}).json
    api.post(base, world.author, json={"body": "Im Stadtteilzentrum.", "parent_id": first["id"]})
    api.post(base, world.moderator, json={"body": "Fachamt meldet Personalbedarf.", "visibility": "internal"})
    rude = api.post(base, world.member, json={"body": "Unsinn!!!"}).json
    api.post(f"/comments/{rude['id']}/hide", world.moderator, json={"reason": "Bitte sachlich bleiben."})
    return fire(rec.id, "adopt", world.administrator, "Angenommen, ab dem nächsten Quartal.", rec.version)


def test_the_page_shows_the_recommendation_its_decision_and_threads(client, world, decided):
    response = page_of(client, decided)
    assert response.status_code == 200
    html, text = response.text, text_of(response.text)
    assert "Recommendation 1: Anlaufstelle für Beteiligung" in text
    assert "State Adopted" in text  # the state in words, not by colour
    assert "<p>Eine <strong>Anlaufstelle</strong> im Bezirk.</p>" in html
    assert f"Authors {world.author.name}" in text
    assert "Decision Adopted Angenommen, ab dem nächsten Quartal." in text
    assert f"Decided by {world.administrator.name}" in text
    assert "Wo genau?" in text and "Im Stadtteilzentrum." in text
    # the reply is indented one level under its parent
    assert re.search(r'class="comment depth-0[^"]*">.*?Wo genau\?.*?class="comment depth-1[^"]*">.*?Im Stadtteilzentrum', html, re.S)
    assert "Hidden by moderation: Bitte sachlich bleiben." in text and "Unsinn!!!" not in text
    assert "Fachamt meldet Personalbedarf." not in text


def test_internal_notes_have_their_own_tab_for_moderators_and_administrators(world, people, browser, decided):
    people(world)
    page = f"/processes/{world.process.slug}/recommendations/{decided.number}"
    moderator = browser(world.moderator)
    moderator.get(page)
    assert "Unsinn!!!" in moderator.text  # moderators read what they hid
    assert "Fachamt meldet Personalbedarf." not in moderator.text
    moderator.get(page + "?tab=internal")
    assert "Internal notes" in moderator.text and "Fachamt meldet Personalbedarf." in moderator.text
    assert "Wo genau?" not in moderator.text
    administrator = browser(world.administrator)
    administrator.get(page + "?tab=internal")
    assert "Fachamt meldet Personalbedarf." in administrator.text and "Unsinn!!!" not in administrator.text
    for user in (world.member, world.author, None):
        reader = browser(user)
        reader.get(page + "?tab=internal")
        assert "Fachamt meldet Personalbedarf." not in reader.text and "Internal notes" not in reader.text
        assert "Wo genau?" in reader.text  # the public discussion instead


def test_the_page_follows_the_workflows_visibility(client, make_user, world, rec_in):
    draft = rec_in(world, "draft")
    assert page_of(client, draft).status_code == 404
    assert client.get("/processes/nope/recommendations/1").status_code == 404
    assert client.get(f"/processes/{world.process.slug}/recommendations/99").status_code == 404
    author = make_user("Author With Password", password=PASSWORD)
    services.grant_role(world.process, author, "member")
    own = services.create_recommendation(world.process.id, author, "Mine", "Draft text")
    login(client, author.email)
    assert page_of(client, own).status_code == 200
    assert page_of(client, draft).status_code == 404


def test_hostile_text_is_inert_on_the_page(client, make_user, world, api):
    evil = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
    villain = make_user(name=evil)
    services.grant_role(world.process, villain, "member")
    services.grant_role(world.process, villain, "administrator")
    rec = api.post(f"/processes/{world.process.slug}/recommendations", villain,
                   json={"title": evil, "body": evil + "\n\n[x](javascript:alert(3)) <a href='jav&#x61;script:alert(4)'>y</a>"}).json
    version = rec["version"]
    for trigger in ("submit",):
        version = api.post(f"/recommendations/{rec['id']}/transitions", villain, json={"trigger": trigger, "version": version}).json["version"]
    version = api.post(f"/recommendations/{rec['id']}/transitions", world.moderator, json={"trigger": "start_moderation", "version": version}).json["version"]
    version = api.post(f"/recommendations/{rec['id']}/transitions", world.moderator, json={"trigger": "forward", "version": version}).json["version"]
    api.post(f"/recommendations/{rec['id']}/comments", villain, json={"body": evil})
    bad = api.post(f"/recommendations/{rec['id']}/comments", villain, json={"body": "x"}).json
    api.post(f"/comments/{bad['id']}/hide", world.moderator, json={"reason": evil})
    api.post(f"/recommendations/{rec['id']}/transitions", villain, json={"trigger": "reject", "version": version, "note": evil})
    html = client.get(f"/processes/{world.process.slug}/recommendations/{rec['number']}").text
    assert executable_parts(without_own_scripts(html), PAGE_TAGS) == []
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the title and the note, shown as text
    api_answer = api.get(f"/recommendations/{rec['id']}").json
    assert executable_parts(api_answer["body_html"]) == []


def test_login_does_not_reveal_accounts_and_redirects_only_locally(client, make_user):
    user = make_user("Login Person", password=PASSWORD)
    unknown = login(client, "nobody@example.org")
    wrong = login(client, user.email, "wrong-password-123")
    # both refused alike: back to the sign-in page (post/redirect/get), which says the same
    assert unknown.status_code == wrong.status_code == 303
    assert unknown.headers["Location"] == wrong.headers["Location"]
    said = client.get(wrong.headers["Location"])
    assert "E-mail or password is wrong." in said.text
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        client.post("/logout", data={})  # refused without a token; the session stays
        response = login(client, user.email, next_url=target)
        assert response.status_code == 302 and response.headers["Location"] == "/", target
    response = login(client, user.email, next_url="/processes/x/recommendations/1")
    assert response.headers["Location"] == "/processes/x/recommendations/1"


def test_forms_without_a_csrf_token_are_refused(client, make_user):
    user = make_user("Csrf Person", password=PASSWORD)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    login(client, user.email)
    assert client.post("/logout", data={}).status_code == 400
    assert user.name in client.get("/").text  # still signed in
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert "Sign in" in client.get("/").text
