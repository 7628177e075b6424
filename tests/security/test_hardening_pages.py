"""Findings of the second hardening on the pages and in the code under them (docs/security.md lists
each with its fix): redirects after every form, bounded diffs, the audit page, the transaction
discipline."""
from __future__ import annotations

import re

from app import services
from app.extensions import db
from app.models import Recommendation


def big_text(changed: set[int] = frozenset(), lines: int = 3_000) -> str:
    return "\n".join(f"Paragraph {i} changed" if i in changed else f"Paragraph {i} of the text" for i in range(lines))


def test_the_versions_page_shows_changes_with_three_lines_of_context(world, people, browser):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Long", big_text())
    services.update_recommendation(rec.id, world.author, rec.version, body=big_text({1_500}))
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}/versions?a=1&b=2")
    assert "removed: Paragraph 1500 of the text" in author.text and "added: Paragraph 1500 changed" in author.text
    assert "Paragraph 1497 of the text" in author.text and "Paragraph 1503 of the text" in author.text
    assert "Paragraph 1496 of the text" not in author.text and "Paragraph 1504 " not in author.text
    assert "… 1499 unchanged lines …" in author.text and "… 1496 unchanged lines …" in author.text
    assert author.page.text.count("<li") < 20


def test_the_versions_page_compares_no_more_than_two_thousand_changed_lines(world, people, browser):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Long", big_text())
    services.update_recommendation(rec.id, world.author, rec.version, body=big_text(set(range(0, 3_000, 2))))
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}/versions?a=1&b=2")
    assert "Versions 1 and 2 are too different to compare line by line." in author.text
    assert "Paragraph 1500" not in author.text


def test_html_url_is_built_from_the_base_url_not_the_host_header(app, world, rec_in, api):
    rec = rec_in(world, "steering_review")
    path = f"/processes/{world.process.slug}/recommendations/{rec.number}"
    forged = {"Host": "attacker.example"}
    app.config["SERVER_NAME"] = None  # as in production: the suite's fixed name would hide the Host header
    # Without RATSCHLAG_BASE_URL (and without trusted hosts) the link follows the Host header: the risk
    # docs/security.md describes.
    assert api.get(f"/recommendations/{rec.id}", headers=forged).json["html_url"] == f"http://attacker.example{path}"
    app.config["BASE_URL"] = "https://beteiligung.bezirk.example/"
    assert api.get(f"/recommendations/{rec.id}", headers=forged).json["html_url"] == \
        f"https://beteiligung.bezirk.example{path}"
    listed = api.get(f"/processes/{world.process.slug}/recommendations", headers=forged).json["items"]
    assert [item["html_url"] for item in listed] == [f"https://beteiligung.bezirk.example{path}"]
    # Served under a path: the base names it, and it is not doubled.
    app.config["BASE_URL"] = "https://bezirk.example/ratschlag"
    answer = api.client.get(f"/api/v1/recommendations/{rec.id}", headers=forged,
                            environ_overrides={"SCRIPT_NAME": "/ratschlag"})
    assert answer.json["html_url"] == f"https://bezirk.example/ratschlag{path}"


def test_the_base_url_comes_from_the_environment(monkeypatch, tmp_path):
    from app import config
    monkeypatch.setenv("RATSCHLAG_BASE_URL", "https://beteiligung.bezirk.example")
    assert config.load(tmp_path)["BASE_URL"] == "https://beteiligung.bezirk.example"


def test_the_audit_page_takes_iso_dates_only_and_says_so(world, people, browser):
    people(world)
    admin = browser(world.superuser)
    for wrong in ("20261121", "2026-11-31", "21.11.2026", "2026-W47-6", "２０２６-11-21", "0001-01-01"):
        page = admin.client.get("/admin/audit", query_string={"from": wrong})
        assert page.status_code == 400, wrong
        admin.page = page
        assert "Write the date as YYYY-MM-DD, for example 2026-11-21." in admin.text
        assert 'id="from-error"' in page.text and "Correct the dates to see events." in admin.text
    assert admin.client.get("/admin/audit", query_string={"to": "9999-12-31"}).status_code == 400
    admin.get("/admin/audit?from=2000-01-01&to=2999-12-31")
    assert "process.created" in admin.text and "error" not in admin.text.lower()


def test_the_audit_page_filters_days_in_the_installations_time_zone(app_config, world, people, monkeypatch):
    from app import audit, create_app
    from tests.conftest import IsolatedClient
    from tests.web.browser import Browser
    people(world)
    # 23:30 UTC on the 20th is half past midnight on the 21st in Berlin.
    monkeypatch.setattr(audit, "timestamp", lambda moment=None: "2026-11-20T23:30:00.000000Z")
    services.create_process("late", "Created late at night", "citizen-recommendation")
    monkeypatch.undo()
    berlin = create_app({**app_config, "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin"})
    berlin.test_client_class = IsolatedClient
    admin = Browser(berlin).login(world.superuser)

    def listed(query: str) -> bool:
        admin.get(f"/admin/audit?action=process.created&{query}")
        return "Created late at night" in admin.text

    assert listed("from=2026-11-21&to=2026-11-21")
    assert re.search(r"11/21/26, 12:30\sAM the system process.created process \d+ \{[^}]*Created late at night", admin.text), \
        admin.text  # shown in Berlin time, the day it was filtered by
    assert not listed("to=2026-11-20")
    assert not listed("from=2026-11-22")
    assert listed("from=2026-11-20") and listed("to=2026-11-21")
