"""The audit trail: the chain as docs/auditing.md defines it, append-only, and tamper-evident."""
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
from tests.conftest import REPO as REPO_ROOT
from app.extensions import db

RECIPE = REPO_ROOT / "docs" / "verify_audit.py"


@pytest.fixture(autouse=True, params=["one pass", "two halves"])
def halves(request, monkeypatch):
    """Every verdict below holds both ways ``verify`` checks a chain: in one pass, and (long chains)
    in two halves at once, the second in a forked process."""
    if request.param == "two halves":
        monkeypatch.setattr(audit, "PARALLEL_FROM", 2)
    return request.param


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
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        for statement in statements:
            conn.execute(sa.text(statement), params)
        if postgres:
            conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


def canon(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_chain_is_exactly_the_contracts(history, runner):
    events = [json.loads(line) for line in export(runner).splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    prev, salts = "0" * 64, set()
    for event in events:
        assert set(event) == {"seq", "v", "at", "actor_id", "action", "subject_type", "subject_id", "data", "salt",
                              "data_digest", "prev_hash", "hash"}
        assert event["v"] == 2
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["at"])
        assert re.fullmatch(r"[0-9a-f]{32}", event["salt"])
        assert event["data_digest"] == sha(event["salt"] + canon(event["data"]))
        canonical = canon({k: event[k] for k in ("seq", "v", "at", "actor_id", "action", "subject_type", "subject_id",
                                                 "data_digest")})
        assert event["prev_hash"] == prev
        assert event["hash"] == sha(prev + canonical)
        prev = event["hash"]
        salts.add(event["salt"])
    assert len(salts) == len(events)  # drawn for each event
    created = next(e for e in events if e["action"] == "recommendation.created")
    assert created["data"] == {"title": "Announce participation early", "body": "Six weeks **ahead**.", "state": "draft"}
    assert created["subject_type"] == "recommendation" and created["subject_id"] == history.id
    comment = events[-1]
    assert comment["action"] == "comment.created" and comment["data"]["body"] == "Grüße aus Mitte — “quoted” ✓"
    result = verify(runner)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ok: {len(events)} events, head {prev}"


def test_a_published_head_must_still_be_in_the_chain(history):
    """``verify(expect_head)``: the event published earlier is there with its hash (a mutant that
    never remembered it survived the tests above)."""
    db.session.rollback()
    middle = audit.verify().count // 2
    published = db.session.execute(sa.text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": middle}).scalar()
    result = audit.verify((middle, published))
    assert result.ok and result.published_hash == published
    rewritten = audit.verify((middle, "f" * 64))
    assert not rewritten.ok and rewritten.bad_seq == middle and "rewritten" in rewritten.reason
    beyond = audit.verify((result.count + 5, published))
    assert not beyond.ok and "truncated" in beyond.reason
    assert result.head_seq == result.count and rewritten.head_seq == result.count


def test_a_missing_or_repeated_event_is_named_for_what_it_is(history):
    db.session.rollback()
    rows = list(audit.stream())
    deleted = audit.verify_rows(rows[:2] + rows[3:])
    assert (deleted.ok, deleted.bad_seq, deleted.head_seq) == (False, 4, 2)
    assert deleted.reason == "expected sequence number 3 here: an event was deleted"
    repeated = audit.verify_rows(rows[:3] + rows[2:])
    assert (repeated.ok, repeated.bad_seq, repeated.reason) == (False, 3, "sequence number out of order: an event was inserted")

    def first(**changes):
        row = list(rows[0])
        for name, value in changes.items():
            row[audit.FIELDS.index(name)] = value
        return audit.verify_rows([tuple(row)]).reason
    assert first(v=2, data_digest=None) == "a v2 event without data_digest"
    assert first(v=3) == "unknown event format v=3"
    assert first(v=1, data=None) == "a v1 event without data: its payload cannot be erased"


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
    tamper(f"UPDATE audit_events SET action = 'recommendation.deleted' WHERE seq = {seq}")
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
    forged = audit.canonical_data(json.loads(row["data"]) | {"note": "forged"})
    digest = audit.digest_data(row["salt"], forged)
    new_hash = audit.compute_hash_v2(row["prev_hash"], 11, row["at"], row["actor_id"], row["action"],
                                     row["subject_type"], row["subject_id"], digest)
    tamper("UPDATE audit_events SET data = :data, data_digest = :digest, hash = :hash WHERE seq = 11",
           data=forged, digest=digest, hash=new_hash)
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == "bad: event 12: prev_hash is not the previous event's hash"


def test_changed_data_is_found_by_its_digest(history, runner):
    seq = seq_of("recommendation.created")
    tamper(f"UPDATE audit_events SET data = replace(data, 'Six weeks', 'Ten weeks') WHERE seq = {seq}")
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"bad: event {seq}: data_digest does not match the event's data and salt"


def test_a_changed_salt_is_found(history, runner):
    tamper("UPDATE audit_events SET salt = :salt WHERE seq = 3", salt="0" * 32)
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == "bad: event 3: data_digest does not match the event's data and salt"


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
        assert int(row["v"]) == event["v"] and row["salt"] == event["salt"] and row["data_digest"] == event["data_digest"]
        assert json.loads(row["data"]) == event["data"] and row["data"] == canon(event["data"])
        assert row["actor_id"] == ("" if event["actor_id"] is None else str(event["actor_id"]))
        assert row["withheld"] == row["erased"] == ""


def recipe(path=None, *options, stdin=None):
    return subprocess.run([sys.executable, str(RECIPE), *options, *([str(path)] if path else [])], input=stdin,
                          capture_output=True, text=True)


def test_the_auditors_recipe_verifies_an_export_and_finds_tampering(history, runner, tmp_path):
    exported = tmp_path / "audit.jsonl"
    exported.write_text(export(runner), encoding="utf-8")
    good = recipe(exported)
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == verify(runner).stdout.strip()

    lines = exported.read_text(encoding="utf-8").splitlines()
    for index, change, reason in ((4, {"data": {"title": "Rewritten"}}, "data_digest does not match"),
                                  (4, {"action": "recommendation.deleted"}, "hash does not match"),
                                  (4, {"data_digest": "0" * 64, "data": None}, "hash does not match"),
                                  (4, {"withheld": True, "prev_hash": "1" * 64}, "prev_hash does not link")):
        forged = list(lines)
        forged[index] = json.dumps(json.loads(forged[index]) | change, ensure_ascii=False)
        bad = recipe(None, stdin="\n".join(forged) + "\n")
        assert bad.returncode == 1 and bad.stderr.strip() == f"bad: event 5: {reason}", change
    gap = recipe(None, stdin="\n".join(lines[:4] + lines[5:]) + "\n")
    assert gap.returncode == 1 and gap.stderr.strip() == "bad: event 6: sequence gap"


def test_the_recipe_is_short_and_needs_only_the_standard_library():
    source = RECIPE.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 22
    imports = {m for line in source.splitlines() for m in re.findall(r"^import (.+)$", line)}
    assert imports == {"hashlib, json, sys"}


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON_DATA = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # any Unicode that UTF-8 can carry
DECOYS = st.sampled_from(['"seq":0,"subject_id":', '","seq":', '"data_digest":"', ',"v":2}', '\\"', "\x00", "\u2028"])
V2_DATA = st.dictionaries(TEXT | DECOYS, st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT | DECOYS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT | DECOYS, inner, max_size=3), max_leaves=8), max_size=4)


@settings(max_examples=300, deadline=None)
@given(seq=st.integers(1, 2**31 - 1), actor=st.none() | st.integers(1, 2**31 - 1), action=TEXT.filter(bool),
       subject_type=TEXT.filter(bool), subject=st.none() | st.integers(1, 2**31 - 1), data=JSON_DATA, at=TEXT.filter(bool),
       salt=st.text("0123456789abcdef", min_size=32, max_size=32))
def test_verifying_from_stored_text_hashes_exactly_what_was_recorded(seq, actor, action, subject_type, subject, data, at, salt):
    from collections import namedtuple
    Row = namedtuple("Row", audit.FIELDS)
    text = audit.canonical_data(data)
    v1 = Row(seq, 1, at, actor, action, subject_type, subject, text, None, None, "0" * 64, "")
    assert audit._stored_hash("0" * 64, v1) == audit.compute_hash("0" * 64, seq, at, actor, action, subject_type, subject, data)
    digest = audit.digest_data(salt, text)
    v2 = Row(seq, 2, at, actor, action, subject_type, subject, text, salt, digest, "0" * 64, "")
    assert audit._stored_hash("0" * 64, v2) == audit.compute_hash_v2("0" * 64, seq, at, actor, action, subject_type,
                                                                     subject, digest)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=V2_DATA, action=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                    min_size=1, max_size=64) | DECOYS.filter(lambda d: "\x00" not in d),
       actor=st.booleans())
def test_every_appended_event_carries_the_contracts_hash(app, make_user, data, action, actor):
    """PostgreSQL digests, numbers and hashes an event in the server (migration 0007), SQLite in the
    application: for any data and action, even text that looks like the places where the digest and
    the sequence number go, the stored digest and hash are the ones the contract defines."""
    from types import SimpleNamespace
    from app.models import AuditEvent, User
    from app.transactions import write_transaction
    data = {**data, "decoy": '"seq":0,"subject_id":'}
    who = (db.session.get(User, 1) or make_user()) if actor else None
    with write_transaction():
        event = audit.record(action, SimpleNamespace(audit_subject_type="recommendation", id=7), who, data)
    stored = db.session.execute(sa.select(AuditEvent).where(AuditEvent.seq == event.seq)).scalar_one()
    assert (stored.v, stored.hash, stored.prev_hash, stored.data_digest) == (2, event.hash, event.prev_hash, event.data_digest)
    assert (stored.actor_id, stored.action) == (who.id if who else None, action)  # (a mutant dropped the actor)
    assert re.fullmatch(r"[0-9a-f]{32}", stored.salt)
    assert stored.data == canon(data)
    assert stored.data_digest == sha(stored.salt + canon(data))
    assert stored.hash == audit.compute_hash_v2(stored.prev_hash, stored.seq, stored.at, stored.actor_id, action,
                                                "recommendation", 7, stored.data_digest)
    assert audit.verify().ok


def test_two_halves_give_the_one_pass_verdict_and_progress(history, halves, monkeypatch):
    """A long chain is checked in two halves at once; the result, the count and the progress are
    those of one pass, and a forged event in either half, or missing where the halves meet, is
    named as one pass names it."""
    if halves == "one pass":
        pytest.skip("compares the two ways")
    import multiprocessing

    forks: list[str] = []
    real = multiprocessing.get_context
    monkeypatch.setattr(multiprocessing, "get_context", lambda method=None: forks.append(method) or real(method))
    db.session.rollback()
    one_pass = audit.verify_rows(audit.stream())
    told: list[int] = []
    both = audit.verify(progress=told.append)
    assert forks == ["fork"] and both.ok and sum(told) == one_pass.count
    assert (both.count, both.head_seq, both.head_hash) == (one_pass.count, one_pass.head_seq, one_pass.head_hash)
    middle = one_pass.count // 2
    published = db.session.execute(sa.text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": middle + 2}).scalar()
    assert audit.verify((middle + 2, published)).published_hash == published
    for seq in (middle - 1, middle + 2):
        tamper(f"UPDATE audit_events SET subject_id = subject_id + 1000 WHERE seq = {seq}")
        db.session.rollback()
        result = audit.verify()
        assert (result.ok, result.bad_seq, result.count) == (False, seq, seq - 1), result
        assert result.reason == "hash does not match the event's content"
        tamper(f"UPDATE audit_events SET subject_id = subject_id - 1000 WHERE seq = {seq}")
    tamper(f"DELETE FROM audit_events WHERE seq = {middle}")
    db.session.rollback()
    result = audit.verify()
    assert (result.bad_seq, result.reason) == (middle + 1, f"expected sequence number {middle} here: an event was deleted")


@pytest.mark.parametrize("seq", [0, -1])
def test_an_event_numbered_below_one_is_found(history, runner, seq):
    """An INSERT needs no trigger switched off: an event numbered 0 or below, before the first, is
    named (in one pass and in two halves), not skipped."""
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_events (seq, v, at, actor_id, action, subject_type, subject_id, data, prev_hash, hash) "
            f"VALUES ({seq}, 1, '2026-01-01T00:00:00.000000Z', NULL, 'membership.granted', 'process', 1, '{{}}', "
            f"'{'0' * 64}', '{'3' * 64}')"))
    result = verify(runner)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"bad: event {seq}: sequence number out of order: an event was inserted"
