"""The details users notice: human error pages, and nothing inline that a strict CSP would block."""
from __future__ import annotations

import re

from tests.conftest import REPO as REPO_ROOT
from tests.html_safety import executable_parts, without_own_scripts


def test_error_pages_speak_to_people(app, client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "This page does not exist, or you may not see it." in response.text
    response = client.get("/processes/none?page=x")
    assert response.status_code == 404
    response = client.post("/login", data={"email": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413 and "What you sent is too large." in response.text
    response = client.post("/login", data={"email": "a@example.org", "password": "x"})
    assert response.status_code == 400 and "reload the page and try again" in response.text

    def broken():
        raise RuntimeError("the database went away")
    app.view_functions["web.index"] = broken
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong on our side. Nothing was saved" in response.text
    assert "RuntimeError" not in response.text and "database went away" not in response.text


def test_no_inline_scripts_or_styles_in_any_template():
    for path in (REPO_ROOT / "app" / "templates").rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        # a script from the site's own static files (the title counter, progressive) is not inline
        assert not re.search(r"<script(?![^>]*\ssrc=\"\{\{ url_for\('static'[^>]*>\s*</script>)|<style|\sstyle=|\son[a-z]+=", source, re.I), path


def test_rendered_pages_hold_nothing_inline(world, people, browser, rec_in):
    people(world)
    rec = rec_in(world, "steering_review")
    reader = browser(world.moderator)
    for url in ("/", f"/processes/{world.process.slug}", f"/processes/{world.process.slug}/recommendations/{rec.number}",
                "/moderation", "/login"):
        html = without_own_scripts(reader.get(url).text)
        assert "<script" not in html and "<style" not in html and " style=" not in html, url
        assert executable_parts(html, {"link", "meta", "form", "input", "button", "textarea", "svg"}) == [], url


def test_the_stylesheet_is_served_from_our_own_folder(client):
    page = client.get("/login").text
    assert '<link rel="stylesheet" href="/static/style.css">' in page
    assert "http" not in re.sub(r'href="/[^"]*"', "", page.split("<body>")[0])
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "@media" in css.text  # narrow screens are considered
