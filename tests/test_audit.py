"""The audit trail: the chain as CONTRACT.md section 5 defines it, append-only, and tamper-evident."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app import audit
from app.config import REPO_ROOT
from app.extensions import db

RECIPE = REPO_ROOT / "docs" / "verify_audit.py"


@pytest.fixture
def history(world, rec_in, api):
    rec = rec_in(world, "steering_review")
    api.post(f"/recommendations/{rec.id}/comments", world.member, json={"body": "Grüße aus Mitte — “quoted” ✓"})
    return rec


def export(runner, fmt="jsonl") -> str:
    result = runner.invoke(args=["audit", "export", "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def seq_of(action: str) -> int:
    return db.session.execute(sa.text("SELECT min(seq) FROM audit_events WHERE action = :a"), {"a": action}).scalar()


def tamper(*statements: str, **params) -> None:
    """What an attacker with database access does: switch the triggers off and change rows."""
    with db.engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_events_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
        for statement in statements:
            conn.execute(sa.text(statement), params)
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


def test_the_chain_is_exactly_the_contracts(history, runner):
    events = [json.loads(line) for line in export(runner).splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    prev = "0" * 64
    for event in events:
        assert set(event) == {"seq", "at", "actor_id", "action", "subject_type", "subject_id", "data", "prev_hash", "hash"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["at"])
        canonical = json.dumps({k: event[k] for k in ("seq", "at", "actor_id", "action", "subject_type", "subject_id", "data")},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert event["prev_hash"] == prev
        assert event["hash"] == hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()
        prev = event["hash"]
    created = next(e for e in events if e["action"] == "recommendation.created")
    assert created["data"] == {"title": "Announce participation early", "body": "Six weeks **ahead**.", "state": "draft"}
    assert created["subject_type"] == "recommendation" and created["subject_id"] == history.id
    comment = events[-1]
    assert comment["action"] == "comment.created" and comment["data"]["body"] == "Grüße aus Mitte — “quoted” ✓"
    result = verify(runner)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ok: {len(events)} events, head {prev}"


def test_an_empty_chain_verifies(runner):
    result = verify(runner)
    assert result.exit_code == 0 and result.stdout.strip() == f"ok: 0 events, head {'0' * 64}"


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'x' WHERE seq = 1",
                                       "DELETE FROM audit_events WHERE seq = 1",
                                       "DELETE FROM audit_events"])
def test_the_database_refuses_to_change_or_delete_events(history, statement):
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert audit.verify().ok


def test_truncate_is_refused_on_postgresql(history):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is a PostgreSQL statement")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE audit_events"))


def test_a_changed_event_is_found(history, runner):
    seq = seq_of("recommendation.created")
    tamper(f"UPDATE audit_events SET data = replace(data, 'Six weeks', 'Ten weeks') WHERE seq = {seq}")
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"bad: event {seq}: hash does not match the event's content"


def test_a_deleted_event_is_found(history, runner):
    tamper("DELETE FROM audit_events WHERE seq = 12")
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == "bad: event 13: expected sequence number 12 here: an event was deleted"


def test_a_rewritten_event_with_a_recomputed_hash_is_found_at_the_next(history, runner):
    row = db.session.execute(sa.text("SELECT * FROM audit_events WHERE seq = 11")).mappings().one()
    forged = json.loads(row["data"]) | {"note": "forged"}
    new_hash = audit.compute_hash(row["prev_hash"], 11, row["at"], row["actor_id"], row["action"],
                                  row["subject_type"], row["subject_id"], forged)
    tamper("UPDATE audit_events SET data = :data, hash = :hash WHERE seq = 11",
           data=audit.canonical_data(forged), hash=new_hash)
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == "bad: event 12: prev_hash is not the previous event's hash"


def test_an_inserted_event_is_found(history, runner):
    last = db.session.execute(sa.text("SELECT max(seq) FROM audit_events")).scalar()
    tamper(f"INSERT INTO audit_events (seq, at, actor_id, action, subject_type, subject_id, data, prev_hash, hash) "
           f"VALUES ({last + 1}, '2026-01-01T00:00:00.000000Z', NULL, 'recommendation.created', 'recommendation', 1, "
           f"'{{}}', '{'1' * 64}', '{'2' * 64}')")
    result = verify(runner)
    assert result.exit_code == 1 and f"bad: event {last + 1}: prev_hash" in result.stderr


def test_csv_export_holds_the_same_events(history, runner):
    rows = list(csv.DictReader(io.StringIO(export(runner, "csv"))))
    jsonl = [json.loads(line) for line in export(runner).splitlines()]
    assert len(rows) == len(jsonl)
    for row, event in zip(rows, jsonl):
        assert int(row["seq"]) == event["seq"] and row["hash"] == event["hash"] and row["at"] == event["at"]
        assert json.loads(row["data"]) == event["data"]
        assert row["actor_id"] == ("" if event["actor_id"] is None else str(event["actor_id"]))


def test_the_auditors_recipe_verifies_an_export_and_finds_tampering(history, runner, tmp_path):
    exported = tmp_path / "audit.jsonl"
    exported.write_text(export(runner), encoding="utf-8")
    good = subprocess.run([sys.executable, str(RECIPE), str(exported)], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == verify(runner).stdout.strip()

    lines = exported.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[4])
    event["data"]["title"] = "Rewritten"
    lines[4] = json.dumps(event, ensure_ascii=False)
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, str(RECIPE)], input=exported.read_text(encoding="utf-8"),
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip() == "bad: event 5: hash does not match"


def test_the_recipe_is_short_and_needs_only_the_standard_library():
    source = RECIPE.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 20
    imports = {m for line in source.splitlines() for m in re.findall(r"^import (.+)$", line)}
    assert imports == {"hashlib, json, sys"}


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON_DATA = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(1, 2**31 - 1), actor=st.none() | st.integers(1, 2**31 - 1), action=st.text(min_size=1),
       subject_type=st.text(min_size=1), subject=st.none() | st.integers(1, 2**31 - 1), data=JSON_DATA, at=st.text(min_size=1))
def test_verifying_from_stored_text_hashes_exactly_what_was_recorded(seq, actor, action, subject_type, subject, data, at):
    from collections import namedtuple
    row = namedtuple("Row", audit.FIELDS)(seq, at, actor, action, subject_type, subject, audit.canonical_data(data), "0" * 64, "")
    assert audit._stored_hash("0" * 64, row) == audit.compute_hash("0" * 64, seq, at, actor, action, subject_type, subject, data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(), JSON_DATA, max_size=4))
def test_every_appended_event_carries_the_contracts_hash(app, data):
    """PostgreSQL numbers and hashes an event in the server (migration 0006), SQLite in the
    application: for any data, even text that looks like the sequence number's place, the stored
    hash is the one the contract defines and the chain verifies."""
    from types import SimpleNamespace
    from app.models import AuditEvent
    from app.transactions import write_transaction
    data = {**data, "decoy": '"seq":0,"subject_id":'}
    with write_transaction():
        event = audit.record("test.recorded", SimpleNamespace(audit_subject_type="recommendation", id=7), None, data)
    stored = db.session.execute(sa.select(AuditEvent).where(AuditEvent.seq == event.seq)).scalar_one()
    assert (stored.hash, stored.prev_hash) == (event.hash, event.prev_hash)
    assert stored.hash == audit.compute_hash(stored.prev_hash, stored.seq, stored.at, None, "test.recorded",
                                             "recommendation", 7, data)
    assert audit.verify().ok
