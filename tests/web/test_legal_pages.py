"""Imprint, privacy notice and accessibility statement: the operator's text from the instance folder,
else a built-in German or English template; linked from every page's footer."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.browser import Browser

PAGES = {"imprint": ("Imprint", "Impressum"), "privacy": ("Privacy notice", "Datenschutzerklärung"),
         "accessibility": ("Accessibility statement", "Erklärung zur Barrierefreiheit")}


def test_every_page_links_them_in_its_footer(app, world, people):
    people(world)
    for browser, url in ((Browser(app), "/"), (Browser(app), "/login"), (Browser(app), "/processes"),
                         (Browser(app).login(world.member), f"/processes/{world.process.slug}"),
                         (Browser(app), "/no/such/page")):
        page = browser.client.get(url).text
        footer = page[page.index("<footer"):page.index("</footer>")]
        for name in PAGES:
            assert f'href="/{name}"' in footer, (url, name)
        assert 'href="/processes"' in footer


@pytest.mark.parametrize("name", PAGES)
def test_built_in_templates_in_both_languages(app, name):
    english, german = PAGES[name]
    visitor = Browser(app)
    visitor.get(f"/{name}")
    assert f"<h1>{english}</h1>" in visitor.page.text and "to be completed by the operator" in visitor.text
    visitor.client.get("/language/de")
    visitor.get(f"/{name}")
    assert f"<h1>{german}</h1>" in visitor.page.text and "vom Betreiber dieser Installation auszufüllen" in visitor.text
    assert '<html lang="de">' in visitor.page.text


def test_the_accessibility_statement_has_a_feedback_contact_and_enforcement(app):
    visitor = Browser(app)
    visitor.client.get("/language/de")
    visitor.get("/accessibility")
    assert "BITV 2.0" in visitor.text and "Feedback und Kontakt" in visitor.text and "Schlichtungsverfahren" in visitor.text


def test_the_operator_writes_them_in_the_instance_folder(app, world, people):
    people(world)
    folder = Path(app.instance_path) / "legal"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "imprint.de.md").write_text("## Anbieter\n\nBezirksamt Musterstadt <script>alert(1)</script>\n",
                                          encoding="utf-8")
    (folder / "privacy.md").write_text("## Controller\n\nDistrict office, every language\n", encoding="utf-8")
    visitor = Browser(app)
    visitor.get("/imprint")  # English: no imprint.en.md, so the German one the operator wrote
    assert "Bezirksamt Musterstadt" in visitor.text and "<script>alert" not in visitor.page.text
    visitor.get("/privacy")
    assert "District office, every language" in visitor.text
    visitor.get("/accessibility")
    assert "to be completed by the operator" in visitor.text
    # A superuser is reminded that a built-in template is still shown; the operator's own text needs no note.
    superuser = Browser(app).login(world.superuser)
    superuser.get("/accessibility")
    assert "This is the built-in template" in superuser.text
    superuser.get("/imprint")
    assert "This is the built-in template" not in superuser.text
    # A changed file shows at once.
    (folder / "imprint.de.md").write_text("## Anbieter\n\nNeues Bezirksamt, längerer Text\n", encoding="utf-8")
    assert "Neues Bezirksamt" in visitor.get("/imprint").text


def test_other_names_are_not_pages(app):
    assert Browser(app).client.get("/imprint.md").status_code == 404
    assert Browser(app).client.get("/legal/../config.py").status_code == 404
