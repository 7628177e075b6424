"""Anchoring the audit trail outside the database, and backups that restore to the same verified data."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading

import pytest
import sqlalchemy as sa

from app import audit, create_app, services
from app.extensions import db
from tests.conftest import BASE_CONFIG
from tests.test_audit import tamper


@pytest.fixture
def history(world, rec_in):
    rec = rec_in(world, "steering_review")
    services.create_comment(rec.id, world.member, "Ein Beitrag")
    return rec


def test_the_head_is_published_and_checked(history, world, runner):
    head = runner.invoke(args=["audit", "head"]).stdout.strip()
    seq, digest = head.split(":")
    assert (int(seq), digest) == audit.head()
    assert runner.invoke(args=["audit", "verify", "--expect-head", head]).exit_code == 0
    services.create_comment(history.id, world.author, "Danach")  # the chain grows past the head
    result = runner.invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 0 and result.stdout.startswith(f"ok: {int(seq) + 1} events")
    for bad in ("12", "x:abc", f"{seq}:{'Z' * 64}"):
        assert runner.invoke(args=["audit", "verify", "--expect-head", bad]).exit_code == 2


def test_a_truncated_chain_is_found_against_the_published_head(history, runner):
    head = runner.invoke(args=["audit", "head"]).stdout.strip()
    seq = int(head.split(":")[0])
    tamper(f"DELETE FROM audit_events WHERE seq >= {seq - 1}")
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # on its own the shorter chain looks whole
    result = runner.invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"bad: event {seq}: the chain ends at event {seq - 2}, before the published head "
                                     f"{seq}: it was truncated")


def test_a_chain_rewritten_with_every_hash_recomputed_is_found(history, runner):
    head = runner.invoke(args=["audit", "head"]).stdout.strip()
    seq = int(head.split(":")[0])
    rows = db.session.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).mappings().all()
    statements, params, prev = [], {}, audit.GENESIS
    for row in rows:  # the attacker rewrites event 3 and recomputes its digest and every hash after it
        data = json.loads(row["data"])
        if row["seq"] == 3:
            data = {**data, "name": "Forged"}
        text = audit.canonical_data(data)
        data_digest = audit.digest_data(row["salt"], text)
        digest = audit.compute_hash_v2(prev, row["seq"], row["at"], row["actor_id"], row["action"],
                                       row["subject_type"], row["subject_id"], data_digest)
        n = row["seq"]
        statements.append(f"UPDATE audit_events SET data = :d{n}, data_digest = :g{n}, prev_hash = :p{n}, hash = :h{n} "
                          f"WHERE seq = {n}")
        params.update({f"d{n}": text, f"g{n}": data_digest, f"p{n}": prev, f"h{n}": digest})
        prev = digest
    tamper(*statements, **params)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # recomputed: consistent on its own
    result = runner.invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"bad: event {seq}: this is not the published event: the chain was rewritten"


def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("ratschlag backup and restore are for SQLite; PostgreSQL is tested with pg_dump below")


def test_backup_under_load_and_restore_round_trip(app, app_config, history, runner, tmp_path, world):
    sqlite_only(app)
    stop = threading.Event()
    writer_app = create_app(app_config)
    rec_id, member_id = history.id, world.member.id

    def keep_writing():  # another connection writing all the while, as a running server would
        from app.models import User
        with writer_app.app_context():
            member, n = db.session.get(User, member_id), 0
            while not stop.is_set():
                services.create_comment(rec_id, member, f"Schreiben während der Sicherung {n}")
                n += 1
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        backups = []
        for i in range(3):
            result = runner.invoke(args=["backup", str(tmp_path / f"backup-{i}.sqlite3")])
            assert result.exit_code == 0, result.output
            backups.append(tmp_path / f"backup-{i}.sqlite3")
    finally:
        stop.set()
        writer.join()
        with writer_app.app_context():
            db.engine.dispose()
    snapshot = backups[-1]

    # Afterwards the data moves on, then the backup is restored.
    before_restore = db.session.scalar(sa.text("SELECT count(*) FROM comments"))
    services.create_comment(history.id, world.member, "Nach der Sicherung")
    assert runner.invoke(args=["backup", str(snapshot)]).stderr == f"Error: {snapshot} exists already; choose a new file\n"
    result = runner.invoke(args=["restore", str(snapshot), "--yes"])
    assert result.exit_code == 0 and "ok:" in result.stdout, result.output
    db.session.rollback()
    restored = db.session.scalar(sa.text("SELECT count(*) FROM comments"))
    assert restored <= before_restore
    assert db.session.scalar(sa.text("SELECT count(*) FROM comments WHERE body = 'Nach der Sicherung'")) == 0
    assert audit.verify().ok
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_restore_tells_its_progress_through_both_checks(app, history, runner, tmp_path):
    """The restore checks the backup's chain before it copies and the database's after: on a terminal
    a progress bar runs through both (issue 18), and the CLI's output stays as it was."""
    sqlite_only(app)
    from app import backup

    snapshot = tmp_path / "snapshot.sqlite3"
    assert runner.invoke(args=["backup", str(snapshot)]).exit_code == 0
    count = audit.head()[0]
    assert backup.events_in(snapshot) == count and backup.events_in(tmp_path / "missing.sqlite3") == 0
    told: list[int] = []
    assert backup.restore(snapshot, told.append).ok
    assert sum(told) == 2 * count
    result = runner.invoke(args=["restore", str(snapshot), "--yes"])
    assert result.exit_code == 0 and result.stdout.startswith(f"restored from {snapshot}; ok: {count} events")


def test_restore_refuses_what_is_not_a_good_backup(app, history, runner, tmp_path):
    sqlite_only(app)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    result = runner.invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code == 1 and "is not a Ratschlag database" in result.stderr
    assert runner.invoke(args=["restore", str(tmp_path / "missing.sqlite3"), "--yes"]).stderr.endswith("does not exist\n")
    good = tmp_path / "good.sqlite3"
    runner.invoke(args=["backup", str(good)])
    import sqlite3
    connection = sqlite3.connect(good)
    connection.execute("DROP TRIGGER audit_events_no_update")
    connection.execute("UPDATE audit_events SET action = 'x' WHERE seq = 2")
    connection.commit()
    connection.close()
    result = runner.invoke(args=["restore", str(good), "--yes"])
    assert result.exit_code == 1 and "the audit chain in" in result.stderr and "is broken" in result.stderr
    assert audit.verify().ok  # nothing was touched


def test_postgresql_dump_and_restore_keep_the_data_and_the_chain(app, history, tmp_path):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("pg_dump belongs to PostgreSQL")
    if not shutil.which("pg_dump"):
        pytest.fail("pg_dump is not installed")
    url = db.engine.url
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "ratschlag.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", libpq], check=True)
    target = url.set(database="ratschlag_restore_test")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS ratschlag_restore_test"))
        conn.execute(sa.text("CREATE DATABASE ratschlag_restore_test"))
    try:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={target.set(drivername='postgresql').render_as_string(hide_password=False)}",
                        str(dump)], check=True)
        restored_app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": target.render_as_string(hide_password=False),
                                   "INSTANCE_PATH": str(tmp_path)})
        counts = sa.text("SELECT process_id, state, block, count FROM recommendation_counts WHERE count <> 0 ORDER BY 1, 2, 3")
        original_head, original_comments = audit.head(), db.session.scalar(sa.text("SELECT count(*) FROM comments"))
        original_counts = db.session.execute(counts).all()
        with restored_app.app_context():
            assert audit.verify().ok and audit.head() == original_head
            assert db.session.scalar(sa.text("SELECT count(*) FROM comments")) == original_comments
            assert original_counts and db.session.execute(counts).all() == original_counts  # counted once, not twice
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):  # the triggers came along
                with db.engine.begin() as conn:
                    conn.execute(sa.text("DELETE FROM audit_events"))
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS ratschlag_restore_test WITH (FORCE)"))
        admin.dispose()


def test_a_published_head_is_taken_in_upper_case_and_a_wrong_one_is_explained(history, world, runner):
    """Found by the review of issue 16: a head copied from printed minutes in capitals was refused with
    "write it as SEQ:HASH", which it was. The hash is taken in either case (and with blanks around it);
    anything else says what is wrong with it and checks nothing."""
    seq, digest = audit.head()
    for written in (f"{seq}:{digest.upper()}", f" {seq}:{digest.upper()[:10]}{digest[10:]} "):
        result = runner.invoke(args=["audit", "verify", "--expect-head", written])
        assert result.exit_code == 0 and result.stdout.startswith(f"ok: {seq} events"), result.output
    result = runner.invoke(args=["audit", "verify", "--expect-head", f"{'9' * 18}:{digest}"])  # the longest taken
    assert result.exit_code == 1 and "truncated" in result.stderr, result.output
    other = "0" * 64  # a well-formed head the chain does not hold is still found, in capitals too
    result = runner.invoke(args=["audit", "verify", "--expect-head", f"{seq}:{other.upper()}"])
    assert result.exit_code == 1 and "this is not the published event" in result.stderr
    for written, reason in (
            (digest, "write it as SEQ:HASH, as 'ratschlag audit head' prints it"),
            (f"x{seq}:{digest}", "SEQ, before the colon, must be the event's number (digits only); 'x" + str(seq)
             + "' is not"),
            (f"{seq}:{digest[:63]}", "the hash after the colon must be 64 hexadecimal digits; this one has 63 characters"),
            (f"{seq}:{digest}0", "the hash after the colon must be 64 hexadecimal digits; this one has 65 characters"),
            (f"{seq}:{'Z' * 64}", "the hash after the colon must be 64 hexadecimal digits (0-9, a-f); 'z' is not one"),
            # found by the second review: event 0 was "the chain was rewritten", a huge number "truncated"
            (f"0:{digest}", "SEQ, before the colon, must be 1 or more: events are numbered from 1"),
            (f"000:{digest}", "SEQ, before the colon, must be 1 or more: events are numbered from 1"),
            (f"{'9' * 19}:{digest}", "SEQ, before the colon, has more than 18 digits: no trail holds that many events"),
            (f"{'9' * 23}:{digest}", "SEQ, before the colon, has more than 18 digits: no trail holds that many events")):
        result = runner.invoke(args=["audit", "verify", "--expect-head", written])
        assert result.exit_code == 2, (written, result.output)
        assert f"Invalid value for '--expect-head': {reason}" in result.stderr, result.stderr
        assert "ok:" not in result.output and "Traceback" not in result.output
