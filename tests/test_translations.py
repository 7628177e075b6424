"""German and English: every string translated, the catalogues current, and the right language shown."""
from __future__ import annotations

import re
import subprocess
import sys

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app import create_app
from tests.conftest import REPO, IsolatedClient

CATALOGUE = REPO / "app" / "translations" / "de" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def fresh_extraction(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(REPO / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "-o", str(pot), "--no-location", "--omit-header", str(REPO)],
                   check=True, capture_output=True, cwd=REPO)
    return read_po(pot.open("rb"))


def test_every_string_in_the_code_has_a_german_translation(tmp_path):
    wanted = {m.id if isinstance(m.id, str) else tuple(m.id) for m in fresh_extraction(tmp_path) if m.id}
    german = read_po((CATALOGUE / "messages.po").open("rb"), locale="de")
    translated = {}
    for m in german:
        if m.id:
            assert not m.fuzzy, f"fuzzy: {m.id!r}"
            translated[m.id if isinstance(m.id, str) else tuple(m.id)] = m.string
    assert wanted - set(translated) == set(), "missing in the German catalogue (make translations)"
    for msgid, text in translated.items():
        texts = [text] if isinstance(text, str) else list(text)
        assert all(t.strip() for t in texts), f"untranslated: {msgid!r}"
        source = set(PLACEHOLDER.findall(msgid if isinstance(msgid, str) else msgid[0]))
        for t in texts:
            assert set(PLACEHOLDER.findall(t)) == source, f"placeholders differ: {msgid!r} -> {t!r}"


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_the_compiled_catalogue_matches_its_source():
    source = {_plain(m.id): _plain(m.string) for m in read_po((CATALOGUE / "messages.po").open("rb"), locale="de") if m.id}
    compiled = {_plain(m.id): _plain(m.string) for m in read_mo((CATALOGUE / "messages.mo").open("rb")) if m.id}
    assert compiled == source, "run: make translations"


def test_german_is_the_default_and_the_switch_is_remembered(app_config):
    config = {**app_config, "BABEL_DEFAULT_LOCALE": "de", "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin"}
    app = create_app(config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        client = app.test_client()
        page = client.get("/")
        assert '<html lang="de">' in page.text and "Empfehlungen und ihre Antworten" in page.text
        english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="en">' in english.text and "Recommendations and their answers" in english.text
        switched = client.get("/language/en?next=/login")
        assert switched.status_code == 302 and switched.headers["Location"] == "/login"
        assert "ratschlag_language=en" in switched.headers["Set-Cookie"]
        assert "Sign in" in client.get("/login", headers={"Accept-Language": "de"}).text  # the choice wins
        client.get("/language/de?next=https://evil.example/")
        assert "Anmelden" in client.get("/login").text
        assert client.get("/language/fr").status_code == 404
        # a page that needs a sign-in says so in the reader's language (Flask-Login's own message is English)
        asked = client.get("/my", follow_redirects=True)
        assert "Bitte melden Sie sich an, um diese Seite zu sehen." in asked.text and "Please log in" not in asked.text
        from app.extensions import db
        db.engine.dispose()


def test_labels_dates_and_messages_follow_the_language(world, people, browser, rec_in, api, app):
    people(world)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    rec = rec_in(world, "steering_review")
    reader = browser(world.member)
    reader.client.get("/language/de")
    reader.get(f"/processes/{world.process.slug}/recommendations/{rec.number}")
    page = reader.text
    assert "Zustand In der Steuerungsrunde" in page and "Nächste Schritte" not in page
    assert re.search(r"Entscheidung fällig \d\d\.\d\d\.\d{4}", page)  # a German date
    assert "Moderation beginnen (Eingereicht → In Moderation)" in page  # the timeline in the workflow's German
    answer = api.post(f"/recommendations/{rec.id}/transitions", world.administrator,
                      json={"trigger": "adopt", "version": rec.version}, headers={"Accept-Language": "de"})
    assert answer.json["error"]["message"] == "Notiz darf nicht leer sein"
    listing = api.get(f"/processes/{world.process.slug}/recommendations", headers={"Accept-Language": "de"}).json
    assert listing["items"][0]["state_label"] == "In der Steuerungsrunde"


def test_the_command_line_speaks_the_terminals_language(runner, monkeypatch):
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    result = runner.invoke(args=["processes", "grant", "nirgends", "a@example.org", "member"])
    assert result.stderr == "Error: es gibt keinen Prozess 'nirgends'\n"
    monkeypatch.setenv("LANG", "C.UTF-8")
    result = runner.invoke(args=["processes", "grant", "nirgends", "a@example.org", "member"])
    assert result.stderr == "Error: there is no process 'nirgends'\n"
