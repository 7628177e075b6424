"""Second hardening, accounts: sessions that end on the server, sign-in throttling in the database,
e-mail addresses compared by their case-folded form, duplicates that race, and the per-state
counts (docs/security.md, "The second hardening")."""
from __future__ import annotations

import unicodedata

import click
import pytest
import sqlalchemy as sa

from app import create_app, services
from app.errors import TooManyAttempts, ValidationError
from app.extensions import db
from app.models import AuditEvent, CommentReport, Membership, Process, Throttle, User, SignIn
from tests.conftest import IsolatedClient, audit_count
from tests.web.browser import PASSWORD, Browser

DOMAIN = "ratschlag.test"  # the suite's SERVER_NAME: cookies are set for it


def signed_in(client) -> bool:
    """Whether this client's cookies open a page only a signed-in person sees."""
    return client.get("/account/password").status_code == 200


def copy_cookies(source, names: tuple[str, ...]):
    """A new client holding copies of ``source``'s cookies, as a thief who copied them would."""
    thief = source.application.test_client()
    for name in names:
        cookie = source.get_cookie(name, domain=DOMAIN)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value, domain=DOMAIN)
    return thief


def remembered_login(app, user) -> Browser:
    browser = Browser(app)
    browser.get("/login")
    browser.post("/login", {"email": user.email, "password": PASSWORD, "remember": "y"}, status=200)
    assert user.name in browser.text
    return browser


# -- item 5: signing out ends the session on the server ------------------------------------------


@pytest.mark.parametrize("copied", [("session",), ("remember_token",), ("session", "remember_token")])
def test_a_copied_cookie_stops_working_when_its_owner_signs_out(world, people, app, copied):
    people(world)
    owner = remembered_login(app, world.member)
    thief = copy_cookies(owner.client, copied)
    assert signed_in(thief)  # the copy works while the owner is signed in
    owner.post("/logout", status=200)
    assert "You are signed out." in owner.text
    assert not signed_in(thief)
    assert not signed_in(owner.client)


def test_signing_out_ends_only_that_sign_in(world, people, app):
    people(world)
    laptop, phone = remembered_login(app, world.member), remembered_login(app, world.member)
    laptop.post("/logout", status=200)
    assert signed_in(phone.client) and not signed_in(laptop.client)


def test_sign_out_everywhere_ends_every_sign_in_and_says_tokens_stay(world, people, app):
    people(world)
    raw = services.create_token(world.member, "script")
    here, there = remembered_login(app, world.member), remembered_login(app, world.member)
    copy = copy_cookies(there.client, ("remember_token",))
    here.get("/account/password")
    assert "Your API tokens keep working" in here.text
    events = audit_count()
    here.post("/account/sign-out-everywhere", status=200)
    assert "You are signed out everywhere, in this browser too. Your API tokens still work." in here.text
    assert not signed_in(here.client) and not signed_in(there.client) and not signed_in(copy)
    assert audit_count() == events + 1
    assert db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first() == \
        "user.signed_out_everywhere"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignIn)
                             .where(SignIn.user_id == world.member.id)) == 0
    assert app.test_client().get("/api/v1/processes/guidelines/recommendations",
                                 headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    again = remembered_login(app, world.member)  # and signing in again works
    assert signed_in(again.client)


def test_sign_out_everywhere_needs_a_session_and_csrf(world, people, app):
    people(world)
    assert app.test_client().post("/account/sign-out-everywhere").status_code in (302, 400)
    member = remembered_login(app, world.member)
    assert member.client.post("/account/sign-out-everywhere").status_code == 400  # no CSRF token
    assert signed_in(member.client)


def test_a_password_change_keeps_this_browser_remembered(world, people, app):
    people(world)
    here = remembered_login(app, world.member)
    here.get("/account/password")
    here.post("/account/password", {"current": PASSWORD, "new": "a-new-long-password"}, status=200)
    here.client.delete_cookie("session", domain=DOMAIN)
    assert signed_in(here.client)  # the new remember-me cookie names the new sign-in


# -- item 7: throttling in the database ------------------------------------------------------------


THROTTLED = {"THROTTLE_FREE_PER_PAIR": 3, "THROTTLE_FREE_PER_ADDRESS": 8, "THROTTLE_FREE_PER_ACCOUNT": 5,
             "THROTTLE_FREE_PASSWORD": 3, "THROTTLE_FIRST_WAIT_SECONDS": 60}


@pytest.fixture
def workers(app_config):
    """Two application instances on one database, as two gunicorn workers or two servers are."""
    apps = [create_app({**app_config, **THROTTLED}) for _ in range(2)]
    for each in apps:
        each.test_client_class = IsolatedClient
    with apps[0].app_context():
        yield apps
        db.session.remove()
        for each in apps:
            with each.app_context():
                db.engine.dispose()


def attempt(app, email: str, password: str, address: str = "192.0.2.1"):
    visitor = Browser(app)
    visitor.client.environ_base["REMOTE_ADDR"] = address
    visitor.get("/login")
    return visitor.post("/login", {"email": email, "password": password})


def test_two_workers_share_one_sign_in_budget(workers):
    services.create_user("target@example.org", "Target", password=PASSWORD)
    first, second = workers
    statuses = [attempt(first if i % 2 else second, "target@example.org", "wrong-password-1").status_code
                for i in range(4)]
    assert statuses == [200, 200, 200, 429], statuses  # in each worker's memory: 200 four times
    # refused before the password is checked, even the right one, from either worker
    for app in workers:
        response = attempt(app, "target@example.org", PASSWORD)
        assert response.status_code == 429 and "Too many attempts" in response.text
        assert 55 <= int(response.headers["Retry-After"]) <= 60


def test_simultaneous_attempts_in_two_workers_cannot_exceed_the_budget(workers):
    """Each attempt is counted before its password is checked, in one transaction: of eight guesses
    sent at once through two workers, three are checked, five wait."""
    import threading
    waits, start = [], threading.Barrier(8)

    def guess(app):
        with app.app_context():
            start.wait()
            waits.append(services.sign_in_attempt("target@example.org", "192.0.2.1").wait)
            db.session.remove()
    threads = [threading.Thread(target=guess, args=(workers[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(w > 0 for w in waits) == [False] * 3 + [True] * 5, waits


def test_waits_double_with_each_further_failure(workers):
    app = workers[0]
    waits = []
    for _ in range(3):
        for _ in range(3 if not waits else 1):
            attempt(app, "someone@example.org", "wrong-password-1")
        response = attempt(app, "someone@example.org", "wrong-password-1")
        waits.append(int(response.headers["Retry-After"]))
        db.session.execute(sa.update(Throttle).values(blocked_until=None))  # the wait has passed
        db.session.commit()
    assert [w // 10 * 10 for w in waits] == [60, 120, 240], waits


def test_a_stranger_cannot_lock_the_owner_out(workers):
    app = workers[0]
    owner, _ = services.create_user("owner@example.org", "Owner", password=PASSWORD)
    assert attempt(app, "owner@example.org", PASSWORD, address="198.51.100.7").status_code == 200  # home, known
    # strangers at many addresses guess until the account's budget for unknown addresses is gone
    statuses = [attempt(app, "owner@example.org", "wrong-password-1", address=f"203.0.113.{i}").status_code
                for i in range(1, 8)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429, statuses
    # the owner at home is not blocked, and signs in
    home = Browser(app)
    home.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    home.login(owner)
    # a stranger who fails on purpose blocks their own (account, address) pair, not the owner at home
    for _ in range(3):
        attempt(app, "owner@example.org", "wrong-password-1", address="203.0.113.99")
    assert attempt(app, "owner@example.org", PASSWORD, address="203.0.113.99").status_code == 429
    assert attempt(app, "owner@example.org", PASSWORD, address="198.51.100.7").status_code == 200


def test_an_unknown_account_is_throttled_like_a_known_one(workers):
    """The throttle's answers reveal no account."""
    services.create_user("real@example.org", "Real", password=PASSWORD)
    real = [attempt(workers[0], "real@example.org", "wrong-password-1").status_code for _ in range(4)]
    unknown = [attempt(workers[1], "unreal@example.org", "wrong-password-1", "192.0.2.2").status_code for _ in range(4)]
    assert real == unknown == [200, 200, 200, 429]


def test_the_password_form_is_throttled_per_account(workers):
    app = workers[0]
    user, _ = services.create_user("changer@example.org", "Changer", password=PASSWORD)
    here = Browser(app)
    here.login(user)
    here.get("/account/password")
    for _ in range(3):
        here.post("/account/password", {"current": "wrong-password-9", "new": "a-new-long-password"}, status=200)
        assert "The current password is wrong." in here.text
    # from another worker, and with the right password: refused until the wait is over
    there = Browser(workers[1])
    there.login(user)
    there.get("/account/password")
    there.post("/account/password", {"current": PASSWORD, "new": "a-new-long-password"}, status=429)
    assert "Too many attempts" in there.text and 55 <= int(there.page.headers["Retry-After"]) <= 60
    with pytest.raises(TooManyAttempts):
        services.change_password(user.id, PASSWORD, "a-new-long-password")
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == user.password_hash  # unchanged
    db.session.execute(sa.update(Throttle).values(blocked_until=None))
    db.session.commit()
    there.post("/account/password", {"current": PASSWORD, "new": "a-new-long-password"}, status=200)
    assert "Your password is changed." in there.text


def test_the_throttle_table_holds_no_address_or_e_mail(workers):
    attempt(workers[0], "private@example.org", "wrong-password-1", address="192.0.2.77")
    stored = " ".join(key for key in db.session.scalars(sa.select(Throttle.key)))
    assert stored and "private" not in stored and "192.0.2.77" not in stored


# -- item 9: one account per address, whatever its case and Unicode form -------------------------


NFC, NFD = unicodedata.normalize("NFC", "Ärger@x.de"), unicodedata.normalize("NFD", "Ärger@x.de")


@pytest.mark.parametrize("second", ["ärger@x.de", "ÄRGER@X.DE", NFD, " ärger@X.de "])
def test_addresses_that_differ_in_case_or_unicode_form_are_one_account(app, second):
    user, _ = services.create_user(NFC, "Erste", password=PASSWORD)
    with pytest.raises(ValidationError, match="exists already"):
        services.create_user(second, "Zweite")
    assert services.find_user(second).id == user.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_the_address_is_stored_composed_and_as_typed(app):
    user, _ = services.create_user(" " + NFD + " ", "Erste")
    assert user.email == NFC  # NFC, stripped; case kept
    straße, _ = services.create_user("Straße@x.de", "Strasse")
    assert straße.email == "Straße@x.de"  # folded only for comparing: mail goes where it was typed
    assert services.find_user("STRASSE@x.de").id == straße.id


def test_sign_in_cli_and_admin_page_find_the_account_by_any_form(world, people, app, runner):
    user, _ = services.create_user(NFD, "Ärger", password=PASSWORD)
    page = Browser(app)
    page.get("/login")
    page.post("/login", {"email": "ärger@X.DE", "password": PASSWORD}, status=200)
    assert "Welcome, Ärger." in page.text
    result = runner.invoke(args=["users", "token", "ÄRGER@x.de", "--label", "cli"])
    assert result.exit_code == 0, result.output
    token = db.session.scalars(sa.select(services.accounts.ApiToken).where(
        services.accounts.ApiToken.label == "cli")).one()
    assert token.user_id == user.id
    assert runner.invoke(args=["processes", "grant", "guidelines", "ärger@x.de", "member"]).exit_code == 0
    assert runner.invoke(args=["users", "create", "äRGER@x.de", "--name", "Twin"]).exit_code == 1
    people(world)
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/users")
    admin.post("/admin/users", {"email": "ärger@x.DE", "name": "Twin"}, status=200)
    assert "exists already" in admin.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.name == "Twin")) == 0


def test_the_database_itself_refuses_a_second_row_with_the_same_key(app):
    services.create_user(NFC, "Erste")
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text(
            "INSERT INTO users (email, email_key, name, password_hash, is_superuser, active, created_at, session_token)"
            " VALUES (:email, :key, 'Zweite', 'x', false, true, '2026-01-01 00:00:00', 'x')"),
            {"email": "ärger@x.de", "key": "ärger@x.de"})
    db.session.rollback()


def test_the_upgrade_normalizes_addresses_and_refuses_colliding_accounts(app):
    from flask_migrate import downgrade, upgrade

    db.session.commit()
    db.session.remove()
    downgrade(revision="0008")
    try:
        insert = sa.text("INSERT INTO users (email, name, password_hash, is_superuser, active, created_at, session_token)"
                         " VALUES (:email, :name, 'x', false, true, '2026-01-01 00:00:00', 'x')")
        for email, name in ((NFC, "Precomposed"), (" " + NFD, "Decomposed"), ("Other@Example.org", "Other")):
            db.session.execute(insert, {"email": email, "name": name})
        db.session.commit()
        with pytest.raises(click.ClickException, match=r"revision 0011 stopped, nothing changed: .*users 1 \(Ärger@x.de\) and 2 "):
            upgrade()
        db.session.rollback()
        db.session.remove()
        assert "email_key" not in [c["name"] for c in sa.inspect(db.engine).get_columns("users")]
        db.session.execute(sa.text("UPDATE users SET email = 'aerger@x.de' WHERE id = 2"))
        db.session.commit()
    finally:
        db.session.remove()
        upgrade()
    db.session.remove()
    rows = db.session.execute(sa.text("SELECT email, email_key FROM users ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(NFC, "ärger@x.de"), ("aerger@x.de", "aerger@x.de"),
                                        ("Other@Example.org", "other@example.org")]
    assert services.find_user("OTHER@example.ORG").name == "Other"


# -- item 12: duplicates that race ------------------------------------------------------------------


@pytest.fixture
def simultaneous(app):
    """``simultaneous(statement, params)``: the next flush first writes ``statement`` in the same
    transaction, as a request that committed the same row a moment earlier would have: the service's
    check for a duplicate has passed, its INSERT meets the unique constraint."""
    armed = []

    def inject(session, _context, _instances):
        if armed:
            session.execute(sa.text(armed[0]), armed.pop(1))
            armed.clear()
    sa.event.listen(db.session(), "before_flush", inject)

    def arm(statement: str, params: dict):
        armed[:] = [statement, params]
    yield arm
    sa.event.remove(db.session(), "before_flush", inject)


def test_a_user_created_twice_at_once_is_a_clear_refusal(app, simultaneous):
    events = audit_count()
    simultaneous("INSERT INTO users (email, email_key, name, password_hash, is_superuser, active, created_at, "
                 "session_token) VALUES ('twin@example.org', 'twin@example.org', 'First', 'x', false, true, "
                 "'2026-01-01 00:00:00', 'x')", {})
    with pytest.raises(ValidationError, match="exists already"):
        services.create_user("Twin@example.org", "Second")
    assert audit_count() == events and services.find_user("twin@example.org") is None


def test_a_process_created_twice_at_once_is_a_clear_refusal(app, simultaneous):
    events = audit_count()
    simultaneous("INSERT INTO processes (slug, title, workflow_id, created_at) VALUES "
                 "('twin', 'First', 'citizen-recommendation', '2026-01-01 00:00:00')", {})
    with pytest.raises(ValidationError, match="a process with the slug 'twin' exists already"):
        services.create_process("twin", "Second", "citizen-recommendation")
    assert audit_count() == events
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Process)) == 0


def test_a_role_granted_twice_at_once_is_granted_once(world, simultaneous):
    events = audit_count()
    simultaneous("INSERT INTO memberships (user_id, process_id, role, created_at) VALUES (:u, :p, 'moderator', "
                 "'2026-01-01 00:00:00')", {"u": world.member.id, "p": world.process.id})
    assert services.grant_role(world.process, world.member, "moderator") is False  # "held already", no 500
    assert audit_count() == events
    # the simulated simultaneous grant rolled back with the refusal: the role is granted normally now
    assert services.grant_role(world.process, world.member, "moderator") is True
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.user_id == world.member.id, Membership.role == "moderator")) == 1


RACES = {
    "create_user": ("INSERT INTO users (email, email_key, name, password_hash, is_superuser, active, created_at, "
                    "session_token) VALUES ('twin@example.org', 'twin@example.org', 'First', 'x', false, true, "
                    "'2026-01-01 00:00:00', 'x')",
                    lambda ids: services.create_user("TWIN@example.org", "Second")),
    "create_process": ("INSERT INTO processes (slug, title, workflow_id, created_at) VALUES "
                       "('twin', 'First', 'citizen-recommendation', '2026-01-01 00:00:00')",
                       lambda ids: services.create_process("twin", "Second", "citizen-recommendation")),
    "grant_role": ("INSERT INTO memberships (user_id, process_id, role, created_at) VALUES (:u, :p, 'moderator', "
                   "'2026-01-01 00:00:00')",
                   lambda ids: services.grant_role(db.session.get(Process, ids["p"]), db.session.get(User, ids["u"]),
                                                   "moderator")),
}


@pytest.mark.parametrize("case", sorted(RACES))
def test_duplicates_that_really_race_on_postgresql(app, world, database, case):
    """Another transaction inserts the same row and commits while the service's INSERT waits for it:
    the service has passed its check for a duplicate, and must answer, not fail with IntegrityError."""
    import threading
    import time
    if database.backend != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: the check and the INSERT cannot interleave "
                    "(the tests above force the same path on both databases)")
    statement, call = RACES[case]
    ids = {"u": world.member.id, "p": world.process.id}
    db.session.commit()
    other = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    outcome: dict = {}

    def service():
        with app.app_context():
            try:
                outcome["value"] = call(ids)
            except Exception as error:  # noqa: BLE001 (the assertion below names it)
                outcome["error"] = error
            finally:
                db.session.remove()
    try:
        with other.connect() as first, other.connect() as watcher:
            transaction = first.begin()
            first.execute(sa.text(statement), ids)
            thread = threading.Thread(target=service)
            thread.start()
            deadline = time.monotonic() + 60
            while thread.is_alive() and not watcher.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar():
                assert time.monotonic() < deadline, "the service's INSERT never waited for the other one"
                time.sleep(0.01)
            transaction.commit()
            thread.join(60)
    finally:
        other.dispose()
    if case == "grant_role":
        assert outcome == {"value": False}, outcome  # held already: what the other request granted
    else:
        assert isinstance(outcome.get("error"), ValidationError), outcome
        assert "exists already" in outcome["error"].message


def test_the_admin_pages_answer_a_racing_duplicate_without_a_server_error(world, people, app, simultaneous):
    people(world)
    admin = Browser(app).login(world.superuser)
    admin.get("/admin/processes")
    token = admin.token()
    # the duplicate is written inside the request's own transaction, just before its INSERT
    original = services.processes.add_unique

    def racing(session, obj):
        session.execute(sa.text("INSERT INTO processes (slug, title, workflow_id, created_at) VALUES "
                                "('twin', 'First', 'citizen-recommendation', '2026-01-01 00:00:00')"))
        return original(session, obj)
    services.processes.add_unique = racing
    try:
        response = admin.client.post("/admin/processes", data={"csrf_token": token, "slug": "twin", "title": "Second",
                                                              "workflow": "citizen-recommendation"})
    finally:
        services.processes.add_unique = original
    assert response.status_code == 303  # post/redirect/get, also when refused
    page = admin.client.get(response.headers["Location"])
    assert page.status_code == 200 and "exists already" in page.get_data(as_text=True)


def test_a_report_dismissed_by_two_moderators_is_dismissed_once(world, app, make_user, rec_in):
    second = make_user("Second Moderator")
    services.grant_role(world.process, second, "moderator")
    rec = rec_in(world, "steering_review")
    comment = services.create_comment(rec.id, world.member, "Unfreundlich")
    report = services.report_comment(comment.id, world.author, "Ton")
    events = audit_count()
    with app.app_context():  # moderator one's request, with production's session (no re-reads)
        seen = db.session.get(CommentReport, report.id)  # the page loaded the open report
        assert seen.resolved_at is None
        with app.app_context():  # moderator two dismisses it meanwhile
            services.dismiss_report(report.id, second)
            db.session.remove()
        with pytest.raises(ValidationError, match="closed already"):
            services.dismiss_report(report.id, world.moderator)
        db.session.remove()
    db.session.rollback()  # the test's own read transaction began before both
    assert audit_count() == events + 1


# -- item 16: the per-state counts ----------------------------------------------------------------


def test_counts_check_names_differences_and_rebuild_repairs_them(world, rec_in, runner):
    for state in ("draft", "draft", "submitted"):
        rec_in(world, state)
    result = runner.invoke(args=["counts", "check"])
    assert result.exit_code == 0 and result.stdout == "ok: every count matches its rows\n"
    db.session.execute(sa.text("UPDATE recommendation_counts SET count = count + 5 WHERE state = 'draft'"))
    db.session.execute(sa.text("DELETE FROM recommendation_counts WHERE state = 'submitted'"))
    db.session.commit()
    result = runner.invoke(args=["counts", "check"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "process guidelines, state draft, numbers 1-1000: stored 7, counted 2",
        "process guidelines, state submitted, numbers 1-1000: stored 0, counted 1"]
    assert "2 counts differ" in result.stderr
    result = runner.invoke(args=["counts", "rebuild"])
    assert result.exit_code == 0 and result.stdout.endswith("ok: 2 counts repaired\n")
    assert runner.invoke(args=["counts", "check"]).exit_code == 0


def test_rows_written_during_the_counts_upgrade_are_counted(app, world, monkeypatch):
    """A worker that writes while revision 0005 runs: its row is counted (by the count, or by the
    triggers once it may write), never lost between the two."""
    from alembic import op
    from flask_migrate import downgrade, upgrade

    process_id = world.process.id
    db.session.commit()
    db.session.remove()
    downgrade(revision="0004")
    worker = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    written, refused = [], []

    def write_one(number: int) -> None:
        """The worker's INSERT, refused at once (not waited for) while the upgrade holds the lock."""
        try:
            with worker.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
                else:
                    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
                conn.execute(sa.text(
                    "INSERT INTO recommendations (process_id, number, title, body, body_html, state, version, "
                    "state_entered_at, created_at, updated_at) VALUES (:p, :n, 't', 'b', '<p>b</p>', 'draft', 1, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                    {"p": process_id, "n": number})
            written.append(number)
        except sa.exc.OperationalError:
            refused.append(number)

    original = op.execute

    def execute_then_write(*args, **kwargs):
        result = original(*args, **kwargs)
        write_one(100 + len(written) + len(refused))
        return result
    try:
        write_one(1)
        monkeypatch.setattr(op, "execute", execute_then_write)
        upgrade(revision="0005")
        monkeypatch.setattr(op, "execute", original)
        for number in list(refused):  # the refused writes, once the upgrade is done
            write_one(number)
    finally:
        monkeypatch.setattr(op, "execute", original)
        db.session.remove()
        upgrade()
        worker.dispose()
    assert services.counts.differences() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(sa.text("recommendations"))) == len(set(written))
