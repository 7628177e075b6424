"""Findings of the second hardening on the pages and in the code under them (docs/security.md lists
each with its fix): redirects after every form, bounded diffs, the audit page, the transaction
discipline."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select as sa_select

from app import services
from app.extensions import db
from tests.conftest import audit_count


def big_text(changed: set[int] = frozenset(), lines: int = 3_000) -> str:
    return "\n".join(f"Paragraph {i} changed" if i in changed else f"Paragraph {i} of the text" for i in range(lines))


def test_the_versions_page_shows_changes_with_three_lines_of_context(world, people, browser, texts_of_old):
    people(world)
    rec = services.create_recommendation(world.process.id, world.author, "Long", big_text())
    services.update_recommendation(rec.id, world.author, rec.version, body=big_text({1_500}))
    author = browser(world.author)
    author.get(f"/processes/{world.process.slug}/recommendations/{rec.number}/versions?a=1&b=2")
    assert "removed: Paragraph 1500 of the text" in author.text and "added: Paragraph 1500 changed" in author.text
    assert "Paragraph 1497 of the text" in author.text and "Paragraph 1503 of the text" in author.text
    assert "Paragraph 1496 of the text" not in author.text and "Paragraph 1504 " not in author.text
    assert "… 1499 unchanged lines …" in author.text and "… 1496 unchanged lines …" in author.text
    diff = author.page.text.split('<ol class="diff-lines">', 1)[1].split("</ol>", 1)[0]
    assert diff.count("<li") < 20  # 3 + 1 + 3 lines and two folds, not 3,000 rows


def test_the_versions_page_compares_no_more_than_two_thousand_changed_lines(world, people, browser, texts_of_old):
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
    assert re.search(r"Nov 21, 2026, 12:30:00\sAM the system Process set up process.created Created late at night "
                     r"Show data \{[^}]*Created late at night", admin.text), \
        admin.text  # shown in Berlin time, the day it was filtered by
    assert not listed("to=2026-11-20")
    assert not listed("from=2026-11-22")
    assert listed("from=2026-11-20") and listed("to=2026-11-21")


def test_the_audit_page_shows_payloads_by_the_same_rules_as_the_api(world, people, rec_in, browser, api):
    """A superuser holds no process role: what an internal note, a hidden comment and a report say
    stays withheld on /admin/audit as in the events endpoint; people and roles they administer."""
    people(world)
    rec = rec_in(world, "steering_review")
    note = services.create_comment(rec.id, world.moderator, "Internal: the budget is gone", visibility="internal")
    shown = services.create_comment(rec.id, world.member, "Public words later hidden")
    services.report_comment(shown.id, world.author, "Reported for a secret reason")
    services.hide_comment(shown.id, world.moderator, "Hidden for a stated reason")
    admin = browser(world.superuser)
    admin.get("/admin/audit")
    for secret in ("Internal: the budget is gone", "Public words later hidden", "Reported for a secret reason"):
        assert secret not in admin.page.text
    assert "Hidden for a stated reason" in admin.text  # a hiding reason is for whoever reads the comment
    # each row: the action's words, its code, what it is about ("Report on comment 2 on Recommendation 1"), the data
    rows = {m.group(1): m.group(2) for m in re.finditer(r"(comment\.\w+) (?:Report on )?[Cc]omment \d+ on Recommendation \d+ (\S+)",
                                                          admin.text)}
    assert rows["comment.reported"] == "withheld"
    assert world.member.email in admin.text  # user.created: superusers administer people
    # Event by event, the same judgement the events endpoint gives a reader without a role.
    page_shows = {int(m.group(1)): "<code>" in m.group(2)
                  for m in re.finditer(r"<tr><td>(\d+)</td>(.*?)</tr>", admin.page.text, re.S)}
    api_shows = {e["seq"]: e["data"] is not None for e in api.get(f"/recommendations/{rec.id}/events").json["items"]}
    assert len(set(page_shows) & set(api_shows)) >= 8
    assert {seq: page_shows[seq] for seq in api_shows if seq in page_shows} == \
        {seq: shown for seq, shown in api_shows.items() if seq in page_shows}
    assert note.id and False in api_shows.values() and True in api_shows.values()


def test_a_write_transaction_refuses_changes_it_did_not_make(world):
    from app.models import Process
    from app.transactions import PendingChanges
    events = audit_count()
    process = db.session.get(Process, world.process.id)
    process.title = "Changed outside any service"
    with pytest.raises(PendingChanges):
        services.create_process("next", "Next", "citizen-recommendation")
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Process, world.process.id).title == "Participation guidelines"
    assert audit_count() == events
    db.session.add(Process(slug="smuggled", title="Smuggled", workflow_id="citizen-recommendation"))
    with pytest.raises(PendingChanges):
        services.create_process("next", "Next", "citizen-recommendation")
    db.session.rollback()
    assert services.create_process("next", "Next", "citizen-recommendation").slug == "next"  # clean again: writes
    assert audit_count() == events + 1


def test_sqlite_settings_stay_on_our_engine(app):
    import sqlalchemy as sa
    other = sa.create_engine("sqlite://")
    with other.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0  # SQLite's default, untouched
    other.dispose()
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_tokens_last_use_is_noted_at_most_once_a_minute(world, token, monkeypatch):
    from datetime import timedelta

    from app.models import ApiToken
    from app.services import accounts
    raw = token(world.member)
    start = accounts.utcnow()
    moments = iter([start, start + timedelta(seconds=30), start + timedelta(seconds=60),
                    start + timedelta(seconds=61), start + timedelta(seconds=90)])
    monkeypatch.setattr(accounts, "utcnow", lambda: next(moments))

    def last_used():
        db.session.expire_all()
        return db.session.scalars(sa_select(ApiToken.last_used_at).where(ApiToken.user_id == world.member.id)).one()

    assert last_used() is None
    assert accounts.user_for_token(raw).id == world.member.id
    assert last_used() == start  # the first use is noted
    accounts.user_for_token(raw)
    assert last_used() == start  # 30 s later: not written again
    accounts.user_for_token(raw)
    assert last_used() == start  # a minute exactly: not yet
    accounts.user_for_token(raw)
    assert last_used() == start + timedelta(seconds=61)  # more than a minute: noted
    accounts.user_for_token(raw)
    assert last_used() == start + timedelta(seconds=61)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

ANY_TEXT = st.text(st.characters(exclude_categories=()), min_size=1, max_size=40)  # lone surrogates included


def unstorable(value: str) -> bool:
    """NUL, a lone surrogate, or a control character XML cannot carry (tab and line breaks are text)."""
    return any(0xD800 <= ord(c) <= 0xDFFF or (ord(c) < 32 and c not in "\t\n\r") or c in "\x7f\ufffe\uffff"
               for c in value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=ANY_TEXT, body=ANY_TEXT, comment=ANY_TEXT)
def test_any_text_given_to_a_service_is_stored_as_given_or_refused(world, title, body, comment):
    """A lone surrogate (a command line's undecodable bytes arrive as one) reached the database and
    the audit hash, which cannot encode it; now every text is valid Unicode or refused with 422."""
    from app.errors import ValidationError
    events = audit_count()
    try:
        rec = services.create_recommendation(world.process.id, world.author, title, body)
    except ValidationError as error:
        db.session.rollback()
        assert audit_count() == events
        assert unstorable(title + body) or not title.strip() or not body.strip(), error
        return
    assert (rec.title, rec.body) == (title.strip(), body.strip())
    try:
        services.create_comment(rec.id, world.author, comment)
    except ValidationError:
        assert unstorable(comment) or not comment.strip()
