"""Every page type at a phone's width (360 px) and a desktop's (1280 px), in German and English: nothing
makes the page scroll sideways (tables scroll inside their own region or stack), axe finds nothing serious,
and a screenshot of each is written to tests/e2e/artifacts/layout/ for people to look at."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS, check_accessibility
from tests.e2e.test_browser import PAGES

WIDTHS = [360, 1280]
LONG = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft " + \
    "https://example.org/" + "sehr-langer-pfad/" * 12


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", ["de", "en"])
def test_every_page_type_fits_the_screen(open_page, language, width):
    pages = {}
    overflowing, failures = {}, {}
    (ARTIFACTS / "layout").mkdir(parents=True, exist_ok=True)
    for name, email, url in PAGES:
        page = pages.get(email)
        if page is None:
            page = pages[email] = open_page(language, email)
            page.set_viewport_size({"width": width, "height": 800})
        page.goto(url)
        sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if sizes[0] > sizes[1]:
            overflowing[name] = sizes
        serious = check_accessibility(page, f"layout/{name}-{language}-{width}")
        if serious:
            failures[name] = serious
    assert overflowing == {}, overflowing
    assert failures == {}


def test_a_long_word_and_a_long_address_wrap_on_a_phone(open_page):
    """A German compound and a 200-character address in a title and a text stay inside 360 px."""
    page = open_page("de", "amira@example.org")
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/processes/leitlinien-mitte/new")
    page.get_by_label("Titel", exact=True).fill(LONG[:190])
    page.get_by_label("Text (Markdown)").fill(f"{LONG}\n\n| a | b |\n|---|---|\n| {LONG} | {LONG} |")
    page.get_by_role("button", name="Speichern").click()
    page.wait_for_load_state()
    assert "Donaudampfschiff" in page.get_by_role("heading", level=1).inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACTS / "layout" / "long-words-de-360.png"), full_page=True)
