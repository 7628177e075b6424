"""*Forgot your password?* answers in the same time whether or not the address has an account: the
lookup and the write of the link happen after the response is sent, in a thread of their own
(``call_on_close`` only starts it), so both kinds of address do the same work before the answer
and before the server closes the connection (issue 15, timing side channel)."""
from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Mail, UserToken
from app.services import passwords
from app.web.notifications import RESET_THREAD
from tests.conftest import join_password_resets
from tests.web.browser import Browser

SAID = "If an account has this address, an e-mail with a link to choose a new password is on its way."


def count(model) -> int:
    db.session.rollback()  # a new read: on SQLite an open one would still see the database as it began
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_answer_is_made_before_the_address_is_looked_up_for_known_and_unknown_addresses(
        world, people, app, inbox, work, monkeypatch):
    people(world)
    looked_up = []
    lookup_may_go_on = threading.Event()
    real_find = passwords.find_user

    def find_user(email):
        looked_up.append((email, threading.current_thread().name))
        lookup_may_go_on.wait(20)  # a slow lookup: the connection must not wait for it
        return real_find(email)

    monkeypatch.setattr(passwords, "find_user", find_user)
    for email, mails in ((world.member.email, 1), ("nobody@example.org", 0)):
        looked_up.clear()
        lookup_may_go_on.clear()
        browser = Browser(app)
        browser.get("/password/forgot")
        before = count(Mail)
        response = browser.post("/password/forgot", {"email": email}, follow=False)
        assert response.status_code == 302 and response.headers["Location"] == "/login"
        # The whole answer is there, and for either address nothing was read or written for it yet.
        assert looked_up == [] and count(Mail) == before and count(UserToken) == before, email
        started = time.monotonic()
        response.close()  # what a server does after the response's last byte, before it closes the connection
        # The close hands the work to a thread and returns: it does not wait for the lookup.
        assert time.monotonic() - started < 10, email
        lookup_may_go_on.set()
        join_password_resets()
        assert looked_up == [(email, RESET_THREAD)]
        assert count(Mail) == before + mails and count(UserToken) == before + mails, email
        assert SAID in browser.get("/login").text  # the same message for both
    work()
    assert [to for r in inbox.received for to in r.recipients] == [world.member.email]
    assert "/password/" in inbox.received[0].text
    # Still one mail per account in ten minutes: asking again through the form sends nothing.
    browser = Browser(app)
    browser.get("/password/forgot")
    browser.post("/password/forgot", {"email": world.member.email}, status=200)
    join_password_resets()
    assert SAID in browser.text and count(Mail) == 1


def test_a_failure_after_the_response_is_logged_and_the_next_request_works(world, people, app, inbox, work,
                                                                          monkeypatch, caplog):
    people(world)
    real_request = services.request_password_reset

    def broken(email):
        db.session.execute(sa.text("SELECT 1"))  # a transaction is open when it fails
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "request_password_reset", broken)
    monkeypatch.setattr(app.logger, "disabled", False)  # Alembic's fileConfig turns it off once PostgreSQL is migrated
    browser = Browser(app)
    browser.get("/password/forgot")
    with caplog.at_level(logging.ERROR):
        browser.post("/password/forgot", {"email": world.member.email}, status=200)
        join_password_resets()
    assert SAID in browser.text  # the person's answer does not change
    [record] = [r for r in caplog.records if "password reset could not be queued" in r.getMessage()]
    assert record.levelno == logging.ERROR and "the database went away" in str(record.exc_info[1])
    assert world.member.email not in record.getMessage()  # the log does not say which address has an account
    assert count(Mail) == 0
    monkeypatch.setattr(services, "request_password_reset", real_request)
    browser = Browser(app)
    browser.get("/password/forgot")
    browser.post("/password/forgot", {"email": world.member.email}, status=200)
    join_password_resets()
    assert count(Mail) == 1
    work()
    assert [to for r in inbox.received for to in r.recipients] == [world.member.email]


def test_requests_for_one_address_at_the_same_moment_queue_one_mail(world, app, inbox, work, monkeypatch):
    """Four requests at once (as from four server processes) used to queue two or three mails:
    each checked for a recent link before any of them wrote one."""
    email, member_id = world.member.email, world.member.id
    real_issue = passwords._issue

    def slow_issue(session, user, purpose):
        time.sleep(0.3)  # by now every request has looked for a recent link, if it looked before its transaction
        return real_issue(session, user, purpose)

    monkeypatch.setattr(passwords, "_issue", slow_issue)
    db.session.rollback()
    start, errors = threading.Barrier(4), []

    def ask():
        try:
            with app.app_context():
                start.wait()
                services.request_password_reset(email)
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert count(UserToken) == 1 and count(Mail) == 1
    work()
    assert [to for r in inbox.received for to in r.recipients] == [email]
    assert db.session.scalar(sa.select(UserToken.used_at).where(UserToken.user_id == member_id)) is None  # its link works
