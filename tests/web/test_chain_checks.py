"""Heavy checks off the request (issue 16, item 6): the administration page asks for a check of
the audit chain, ``ratschlag worker`` runs it and stores the result with its time."""
from __future__ import annotations

import sqlalchemy as sa

from app import audit, services
from app.extensions import db
from app.models import AuditEvent, ChainCheck
from app.notify import worker
from app.services import chain_checks
from tests.conftest import audit_count


def never(*_args, **_kwargs):
    raise AssertionError("the chain was verified inside a web request")


def test_the_page_asks_the_worker_shows_the_result_with_its_time(world, people, browser, monkeypatch):
    people(world)
    admin = browser(world.superuser)
    with monkeypatch.context() as patched:
        patched.setattr(audit, "verify", never)  # the page never verifies
        admin.get("/admin/audit/verify")
        assert "has not been checked yet" in admin.text and "Verify the whole chain now" in admin.text
        events = audit_count()
        admin.post("/admin/audit/verify")
        assert admin.redirected_to == "/admin/audit/verify"
        assert "The check was requested" in admin.text and "waits for the worker" in admin.text
        assert "Verify the whole chain now" not in admin.text  # one waits: no second button
        assert audit_count() == events + 1
        requested = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert requested.action == "audit.check_requested" and requested.actor_id == world.superuser.id
        # asked again while one waits: the same check serves, nothing is written
        _check, new = chain_checks.request_check(world.superuser)
        assert not new and audit_count() == events + 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChainCheck)) == 1

    assert worker.run_once()["chain_checked"] == 1
    head_seq, head_hash = audit.head()
    admin.get("/admin/audit/verify")
    assert f"The chain is whole: {head_seq} events." in admin.text and f"{head_seq}:{head_hash}" in admin.text
    assert "Checked:" in admin.text and "waits for the worker" not in admin.text
    assert "Verify the whole chain now" in admin.text
    check = chain_checks.latest()
    assert check.ok and check.finished_at >= check.started_at >= check.requested_at
    assert "chain_checked" not in worker.run_once()  # nothing waits: nothing runs


def test_a_broken_chain_is_reported_with_the_event_and_the_reason(world, people, browser):
    people(world)
    services.chain_checks.request_check(world.superuser)
    broken = audit.Verification(False, 4, 4, "ab" * 32, 5, "hash does not match the event's content")
    chain_checks.run_waiting(verify=lambda: broken)
    admin = browser(world.superuser)
    admin.get("/admin/audit/verify")
    assert "The chain is broken at event 5: hash does not match the event's content" in admin.text
    assert "Checked:" in admin.text


def test_only_superusers_ask_for_a_check(world):
    from app.errors import Forbidden

    events = audit_count()
    try:
        chain_checks.request_check(world.moderator)
    except Forbidden:
        pass
    else:
        raise AssertionError("a moderator asked for a check")
    assert audit_count() == events and chain_checks.waiting() is None
