"""In a real browser, in German and English: every page type passes axe, each person's journey works
by pointer and the member's by keyboard alone."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import check_accessibility

LANGUAGES = ["de", "en"]
PROCESS = "Leitlinien für Bürgerbeteiligung im Bezirk Mitte"
T = {
    "de": {"write": "Empfehlung schreiben", "title": "Titel", "text": "Text (Markdown)", "preview": "Vorschau",
           "save": "Speichern", "submit": "Zur Moderation einreichen", "submitted": "Eingereicht",
           "moderation": "Moderation", "start": "Moderation beginnen", "forward": "An die Steuerungsrunde weiterleiten",
           "in review": "In der Steuerungsrunde", "steering": "Steuerungsrunde", "adopt": "Annehmen",
           "adopted": "Angenommen", "decisions": "Neueste Entscheidungen", "decision": "Entscheidung",
           "comment": "Ihr Kommentar (Markdown)", "publish": "Kommentar veröffentlichen", "reply": "Antworten",
           "take": "Gewählten Schritt ausführen", "note": "Notiz oder Begründung",
           "confirm": "Ich bestätige diesen Schritt.", "reject": "Ablehnen", "rejected": "Abgelehnt",
           "template": "Mit der Antwortvorlage der gewählten Entscheidung beginnen",
           "confirm decision": "Ich bestätige diese Entscheidung.", "justification": "Begründung",
           "rejects": "Die Steuerungsrunde lehnt die Empfehlung ab, weil", "tick": "Bitte das Kästchen ankreuzen",
           "latest note": "Hinweis zum letzten Schritt", "current": "aktueller Schritt"},
    "en": {"write": "Write a recommendation", "title": "Title", "text": "Text (Markdown)", "preview": "Preview",
           "save": "Save", "submit": "Submit for moderation", "submitted": "Submitted",
           "moderation": "Moderation", "start": "Start moderation", "forward": "Forward to the steering round",
           "in review": "Steering round review", "steering": "Steering round", "adopt": "Adopt",
           "adopted": "Adopted", "decisions": "Latest decisions", "decision": "Decision",
           "comment": "Your comment (Markdown)", "publish": "Publish comment", "reply": "Reply",
           "take": "Take the chosen step", "note": "Note or justification",
           "confirm": "I confirm this step.", "reject": "Reject", "rejected": "Rejected",
           "template": "Start from the answer template of the chosen decision",
           "confirm decision": "I confirm this decision.", "justification": "Justification",
           "rejects": "The steering round rejects the recommendation because", "tick": "Tick the box to confirm it",
           "latest note": "Note on the latest step", "current": "current step"},
}

PAGES = [
    ("front", None, "/"),
    ("process", None, "/processes/leitlinien-mitte"),
    ("recommendation", None, "/processes/leitlinien-mitte/recommendations/6"),
    ("recommendation-decided", None, "/processes/leitlinien-mitte/recommendations/10"),
    ("sign-in", None, "/login"),
    ("not-found", None, "/processes/nowhere"),
    ("recommendation-moderator", "mara@example.org", "/processes/leitlinien-mitte/recommendations/6"),
    ("internal-notes", "mara@example.org", "/processes/leitlinien-mitte/recommendations/6?tab=internal"),
    ("moderation-queue", "mara@example.org", "/moderation"),
    ("steering-queue", "stefan@example.org", "/steering"),
    ("recommendation-steering", "stefan@example.org", "/processes/leitlinien-mitte/recommendations/7"),
    ("sessions", "stefan@example.org", "/processes/leitlinien-mitte/sessions"),
    ("session", "stefan@example.org", "/sessions/1"),
    ("answer-templates", "stefan@example.org", "/processes/leitlinien-mitte/answer-templates"),
    ("follow-up", "stefan@example.org", "/processes/leitlinien-mitte/recommendations/9"),
    ("my-recommendations", "amira@example.org", "/my"),
    ("draft", "amira@example.org", "/processes/leitlinien-mitte/recommendations/1"),
    ("edit", "amira@example.org", "/processes/leitlinien-mitte/recommendations/1/edit"),
    ("new", "amira@example.org", "/processes/leitlinien-mitte/new"),
    ("versions", "amira@example.org", "/processes/leitlinien-mitte/recommendations/1/versions?a=1&b=2"),
    ("password", "amira@example.org", "/account/password"),
    ("admin-people", "betrieb@example.org", "/admin/users"),
    ("admin-processes", "betrieb@example.org", "/admin/processes"),
    ("admin-process", "betrieb@example.org", "/admin/processes/leitlinien-mitte"),
    ("audit-log", "betrieb@example.org", "/admin/audit"),
    ("audit-verify", "betrieb@example.org", "/admin/audit/verify"),
    ("procedures", None, "/processes"),
    ("procedures-planned", None, "/?status=planned"),
    ("concern-process", None, "/processes/anliegen-mitte"),
    ("overview-edit", "stefan@example.org", "/processes/leitlinien-mitte/overview"),
    ("imprint", None, "/imprint"),
    ("privacy", None, "/privacy"),
    ("search", None, "/search?q=Beteiligung"),
    ("accessibility", None, "/accessibility"),
    ("for-me", "mara@example.org", "/home"),
    ("notifications", "mara@example.org", "/notifications"),
    ("notification-settings", "amira@example.org", "/notifications/settings"),
    ("forgot-password", None, "/password/forgot"),
    ("outbox", "betrieb@example.org", "/admin/outbox"),
    ("co-authors", "amira@example.org", "/processes/leitlinien-mitte/recommendations/1/authors?q=a"),
    ("confirm-deactivate", "betrieb@example.org", "/admin/users/3/deactivate"),
    ("evaluation", None, "/evaluation"),
    ("process-evaluation", None, "/processes/leitlinien-mitte/evaluation"),
    ("categories", "stefan@example.org", "/processes/leitlinien-mitte/categories"),
    ("affiliation", "amira@example.org", "/settings/affiliation"),
    ("statements-queue", "petra@example.org", "/statements"),
    ("departments", "betrieb@example.org", "/admin/departments"),
    ("department", "betrieb@example.org", "/admin/departments/stadtentwicklung"),
    ("confirm-erase", "betrieb@example.org", "/admin/users/3/erase"),
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_type_has_no_serious_accessibility_violation(open_page, language):
    pages = {}
    failures = {}
    for name, email, url in PAGES:
        page = pages.get(email) or open_page(language, email)
        pages[email] = page
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == language, (name, language)
        assert page.locator("h1").count() == 1, name
        assert page.title().endswith("· Ratschlag") and len(page.title()) > len("· Ratschlag"), name
        serious = check_accessibility(page, f"{name}-{language}")
        if serious:
            failures[name] = serious
    assert failures == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_four_journeys(open_page, language):
    t = T[language]
    title = f"Barrierearme Einladungen ({language})"

    # A member drafts with a preview, saves and submits.
    member = open_page(language, "amira@example.org")
    assert member.url.endswith("/home")  # signed in, people land on what waits for them
    member.goto("/")  # the procedures are listed on the front page
    member.get_by_role("link", name=PROCESS).first.click()
    member.get_by_role("link", name=t["write"]).click()
    member.get_by_label(t["title"], exact=True).fill(title)
    member.get_by_label(t["text"]).fill("Einladungen erscheinen **auch** in Leichter Sprache.")
    member.get_by_role("button", name=t["preview"]).click()
    assert member.locator(".preview strong").inner_text() == "auch"
    member.get_by_role("button", name=t["save"]).click()
    assert member.get_by_role("heading", level=1).inner_text().endswith(title)
    member.get_by_role("radio", name=t["submit"]).check()
    member.get_by_role("button", name=t["take"]).click()
    assert t["submitted"] in member.locator(".facts").inner_text()
    url = member.url

    # The moderator finds it in the queue and forwards it.
    moderator = open_page(language, "mara@example.org")
    moderator.get_by_role("navigation", name=re.compile("Haupt|Main")).get_by_role("link", name=t["moderation"]).click()
    moderator.get_by_role("link", name=re.compile(re.escape(title))).click()
    assert moderator.get_by_role("radio", name=t["start"]).is_checked()  # the only step there is
    moderator.get_by_role("button", name=t["take"]).click()
    moderator.get_by_role("radio", name=t["forward"]).check()
    moderator.get_by_role("button", name=t["take"]).click()
    assert t["in review"] in moderator.locator(".facts").inner_text()

    # The steering round adopts it with a justification.
    administrator = open_page(language, "stefan@example.org")
    administrator.get_by_role("navigation", name=re.compile("Haupt|Main")).get_by_role("link", name=t["steering"]).click()
    administrator.get_by_role("link", name=re.compile(re.escape(title))).click()
    form = administrator.locator("form.decision-form")
    form.get_by_role("radio", name=t["adopt"], exact=True).check()
    form.get_by_label(t["note"]).fill("Angenommen: ab dem nächsten Quartal in allen Einladungen.")
    form.get_by_label(re.compile(re.escape(t["confirm"]))).check()
    form.get_by_role("button", name=t["take"]).click()
    assert t["adopted"] in administrator.locator(".decision").inner_text()

    # A visitor reads the decision and its reasons from the front page.
    visitor = open_page(language)
    visitor.goto("/")
    decisions = visitor.get_by_role("region", name=t["decisions"])
    decisions.get_by_role("link", name=re.compile(re.escape(title))).click()
    assert visitor.url == url
    box = visitor.get_by_role("region", name=t["decision"])
    assert "Angenommen: ab dem nächsten Quartal in allen Einladungen." in box.inner_text()


def focused(page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        const label = e.labels && e.labels.length ? e.labels[0].innerText : (e.getAttribute('aria-label') || '');
        const style = getComputedStyle(e);
        return {tag: e.tagName, text: (e.innerText || e.value || '').trim(), label: label.trim(),
                outline: style.outlineStyle, outlineWidth: style.outlineWidth};
    }""")


def tab_to(page, name: str, limit: int = 200) -> dict:
    """Press Tab until the focused element is called ``name``; it must show where the focus is."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if name in (element["text"], element["label"]) or element["text"].startswith(name):
            assert element["outline"] != "none" and element["outlineWidth"] != "0px", element  # visible focus
            return element
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")


def enter_and_wait(page) -> None:
    """Press Enter on a link or button and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_the_member_journey_by_keyboard_alone(open_page, site):
    _, logins = site
    page = open_page("de")
    page.goto("/")
    tab_to(page, "Zum Inhalt springen")
    tab_to(page, "Anmelden")
    enter_and_wait(page)
    tab_to(page, "E-Mail")
    page.keyboard.type("jonas@example.org")
    tab_to(page, "Passwort")
    page.keyboard.type(logins["jonas@example.org"])
    tab_to(page, "Anmelden")
    enter_and_wait(page)
    tab_to(page, PROCESS)
    enter_and_wait(page)
    tab_to(page, "Empfehlung schreiben")
    enter_and_wait(page)
    tab_to(page, "Titel")
    page.keyboard.type("Mit der Tastatur geschrieben")
    tab_to(page, "Text (Markdown)")
    page.keyboard.type("Jeder Schritt geht ohne Maus.")
    tab_to(page, "Speichern")
    enter_and_wait(page)
    assert page.get_by_role("heading", level=1).inner_text().endswith("Mit der Tastatur geschrieben")
    tab_to(page, "Zur Moderation einreichen")  # the step's radio button
    page.keyboard.press("Space")
    tab_to(page, "Gewählten Schritt ausführen")
    enter_and_wait(page)
    assert "Eingereicht" in page.locator(".facts").inner_text()
    # replying in a thread works by keyboard too: open the reply, write, send
    page.goto("/processes/leitlinien-mitte/recommendations/6")
    tab_to(page, "Antworten")
    page.keyboard.press("Enter")
    tab_to(page, "Ihre Antwort")
    page.keyboard.type("Auch per Tastatur beantwortet.")
    tab_to(page, "Antworten")
    enter_and_wait(page)
    assert "Auch per Tastatur beantwortet." in page.locator(".thread").inner_text()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_decision_in_a_session(open_page, language):
    """The steering round decides an agenda item on the session's page: the decision chosen, its answer
    template asked for, the justification written, the final step confirmed; the public reads it."""
    t = T[language]
    administrator = open_page(language, "stefan@example.org")
    administrator.goto("/sessions/1")
    item = administrator.locator("li.agenda-item", has=administrator.locator("form.decision-form")).first
    item_id = item.get_attribute("id")
    link = item.get_by_role("heading", level=3).get_by_role("link")
    recommendation = link.get_attribute("href")
    form = item.locator("form.decision-form")
    assert form.get_by_role("radio", checked=True).count() == 0  # nothing chosen for the person
    form.get_by_role("radio", name=t["reject"], exact=True).check()
    form.get_by_role("button", name=t["template"]).click()
    administrator.wait_for_load_state()
    item = administrator.locator(f"li#{item_id}")
    form = item.locator("form.decision-form")
    note = form.get_by_label(t["justification"])
    assert note.input_value().startswith(t["rejects"])
    assert form.get_by_role("radio", name=t["reject"], exact=True).is_checked()
    note.fill(f"{t['rejects']} der Haushalt 2027 die Mittel nicht vorsieht ({language}).")
    form.get_by_role("button", name=re.compile("Punkt|item")).click()  # not confirmed yet
    administrator.wait_for_load_state()
    item = administrator.locator(f"li#{item_id}")
    assert t["tick"] in item.inner_text()
    form = item.locator("form.decision-form")
    assert "der Haushalt 2027" in form.get_by_label(t["justification"]).input_value()  # kept
    form.get_by_label(re.compile(re.escape(t["confirm decision"]))).check()
    form.get_by_role("button", name=re.compile("Punkt|item")).click()
    administrator.wait_for_load_state()
    item = administrator.locator(f"li#{item_id}")
    assert t["rejected"] in item.locator(".outcome").inner_text()
    assert "der Haushalt 2027" in item.inner_text()
    assert item.locator("form.decision-form").count() == 0
    check_accessibility(administrator, f"session-decided-{language}")

    visitor = open_page(language)
    visitor.goto(recommendation)
    assert f"{t['current']}: {t['rejected']}" in " ".join(visitor.locator(".stepper").inner_text().split())
    assert "der Haushalt 2027" in visitor.get_by_role("region", name=t["latest note"]).inner_text()
    assert "der Haushalt 2027" in visitor.get_by_role("region", name=t["decision"]).inner_text()
    assert check_accessibility(visitor, f"recommendation-after-session-{language}") == []


def test_the_counter_says_aloud_when_a_text_crosses_its_limit(open_page):
    """The count is the field's description; crossing the limit (either way) is announced once, not at every key."""
    page = open_page("en", "jonas@example.org")
    page.goto("/processes/leitlinien-mitte/new")
    title = page.get_by_label("Title", exact=True)
    spoken = page.locator("#title-counter-spoken")
    assert spoken.get_attribute("aria-live") == "polite" and spoken.inner_text() == ""
    title.fill("T" * 199)
    title.press("End")
    title.type("TT")  # 201: over
    assert "1 too many" in spoken.inner_text() and "201 of 200" in page.locator("#title-counter").inner_text()
    title.press("Backspace")  # 200: within again
    assert spoken.inner_text() == "200 of 200 characters"
    assert title.input_value() == "T" * 200  # nothing was cut by the browser
