"""What did happen: the append-only, hash-chained audit trail (CONTRACT.md section 5).

One chain for the whole installation. ``record`` appends an event inside the caller's write
transaction; appends are serialized (PostgreSQL: a transaction advisory lock, taken by the
server-side ``audit_append``; SQLite: the write transaction began IMMEDIATE). The timestamp
and the data are stored as the exact strings that were hashed.
"""
from __future__ import annotations

import csv
from hashlib import sha256
import json
from dataclasses import dataclass
from functools import lru_cache
from datetime import UTC, datetime
from typing import Any, Iterable, Iterator, TextIO

from sqlalchemy import insert, select, text

from .extensions import db
from .models import AuditEvent

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor_id", "action", "subject_type", "subject_id", "data", "prev_hash", "hash")
_STREAM_BATCH = 2000


def timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_data(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(seq: int, at: str, actor_id: int | None, action: str, subject_type: str, subject_id: int | None,
              data: Any) -> str:
    """The string an event's hash covers after its ``prev_hash`` (CONTRACT.md section 5)."""
    return canonical_data({
        "seq": seq, "at": at, "actor_id": actor_id, "action": action,
        "subject_type": subject_type, "subject_id": subject_id, "data": data,
    })


def compute_hash(prev_hash: str, seq: int, at: str, actor_id: int | None, action: str,
                 subject_type: str, subject_id: int | None, data: Any) -> str:
    return sha256((prev_hash + canonical(seq, at, actor_id, action, subject_type, subject_id, data))
                  .encode("utf-8")).hexdigest()


_EVENTS = AuditEvent.__table__
# Prepared once: every audited change runs these.
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_APPEND = insert(_EVENTS)
# PostgreSQL: lock, read the head, hash and insert in one round trip (migration 0006).
_APPEND_IN_SERVER = text(
    "SELECT event_seq, event_prev_hash, event_hash FROM audit_append("
    ":at, :actor_id, :action, :subject_type, :subject_id, :data, :before_seq, :after_seq)")
# Keys sort as action, actor_id, at, data, seq, subject_id, subject_type: only the last two, which
# the application writes (an id and a type name), follow the sequence number.
_SEQ_SLOT = '"seq":0,"subject_id":'


def record(action: str, subject: Any, actor: Any, data: dict) -> AuditEvent:
    """Append one event about ``subject`` done by ``actor`` (a user, or None for the system).

    Must run inside ``app.db.write_transaction`` so the event commits with the change. The
    number and the previous hash are read under the chain's lock: on SQLite the write
    transaction already holds the database's only write lock; on PostgreSQL the server-side
    ``audit_append`` takes an advisory lock, and hashes the canonical text written here around
    the sequence number it assigns, the same bytes as ``compute_hash``.
    """
    session = db.session
    session.flush()  # the subject needs its id
    at = timestamp()
    actor_id = actor.id if actor is not None else None
    subject_type, subject_id = subject.audit_subject_type, subject.id
    # Round-trip through JSON so what is hashed is exactly what an export shows.
    data = json.loads(canonical_data(data))
    row = {"at": at, "actor_id": actor_id, "action": action, "subject_type": subject_type,
           "subject_id": subject_id, "data": canonical_data(data)}
    if session.get_bind().dialect.name == "postgresql":
        before, _slot, after = canonical(0, at, actor_id, action, subject_type, subject_id, data).rpartition(_SEQ_SLOT)
        row["seq"], row["prev_hash"], row["hash"] = session.execute(_APPEND_IN_SERVER, {
            **row, "before_seq": before + '"seq":', "after_seq": ',"subject_id":' + after}).one()
        return AuditEvent(**row)
    last = session.execute(_HEAD).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    row.update(seq=seq, prev_hash=prev_hash,
               hash=compute_hash(prev_hash, seq, at, actor_id, action, subject_type, subject_id, data))
    session.execute(_APPEND, row)  # a plain INSERT: nothing in the session refers to it
    return AuditEvent(**row)


@lru_cache(maxsize=1024)
def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _stored_hash(prev_hash: str, row: Any) -> str:
    """The hash of a stored event, written straight from its stored fields: the same bytes as
    ``compute_hash`` (keys in sorted order, no spaces), without parsing and re-serializing the
    data, which is stored in canonical form. Stored data that is not exactly what was hashed
    gives another hash, so nothing slips through. ``row`` holds the fields in ``FIELDS`` order."""
    seq, at, actor_id, action, subject_type, subject_id, data, _prev, _hash = row
    quoted_at = f'"{at}"' if at.isascii() and at.isprintable() and '"' not in at and "\\" not in at else _json_string(at)
    canonical = (f'{{"action":{_json_string(action)},"actor_id":{"null" if actor_id is None else int(actor_id)},'
                 f'"at":{quoted_at},"data":{data},"seq":{int(seq)},'
                 f'"subject_id":{"null" if subject_id is None else int(subject_id)},"subject_type":{_json_string(subject_type)}}}')
    return sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def event_dict(row: Any) -> dict:
    """The contract's event fields, ``data`` parsed; ``row`` is a model or a result row."""
    return {
        "seq": row.seq, "at": row.at, "actor_id": row.actor_id, "action": row.action,
        "subject_type": row.subject_type, "subject_id": row.subject_id,
        "data": json.loads(row.data), "prev_hash": row.prev_hash, "hash": row.hash,
    }


def stream() -> Iterator[Any]:
    """Every event, oldest first, streamed in batches (memory stays flat)."""
    table = AuditEvent.__table__
    statement = select(*(table.c[name] for name in FIELDS)).order_by(table.c.seq)
    result = db.session.execute(statement.execution_options(yield_per=_STREAM_BATCH))
    yield from result


@dataclass
class Verification:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    reason: str | None = None
    published_hash: str | None = None  # the hash found at a published head's position

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.count} events, head {self.head_hash}"
        return f"bad: event {self.bad_seq}: {self.reason}"


def head() -> tuple[int, str]:
    """The newest event's sequence number and hash (0 and the genesis hash for an empty chain)."""
    last = db.session.execute(_HEAD).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def verify(expect_head: tuple[int, str] | None = None) -> Verification:
    """Recompute the whole chain; stop at the first bad event.

    With ``expect_head`` (a head published earlier, outside the database), the chain must
    still hold that event with that hash: this finds a truncated chain, and one that was
    rewritten with every hash recomputed.
    """
    result = verify_rows(stream(), expect_head[0] if expect_head else None)
    if not result.ok or expect_head is None:
        return result
    seq, expected = expect_head
    if result.count < seq:
        return Verification(False, result.count, result.head_seq, result.head_hash, seq,
                            f"the chain ends at event {result.count}, before the published head {seq}: it was truncated")
    if result.published_hash != expected:
        return Verification(False, result.count, result.head_seq, result.head_hash, seq,
                            "this is not the published event: the chain was rewritten")
    return result


def verify_rows(rows: Iterable[Any], remember_seq: int | None = None) -> Verification:
    """Check a chain given as rows with the event fields, oldest first (from any database)."""
    expected_seq, prev_hash, count, remembered = 1, GENESIS, 0, None
    for row in rows:
        problem = None
        if row.seq != expected_seq:
            problem = (f"expected sequence number {expected_seq} here: an event was deleted"
                       if row.seq > expected_seq else "sequence number out of order: an event was inserted")
        elif row.prev_hash != prev_hash:
            problem = "prev_hash is not the previous event's hash"
        elif _stored_hash(prev_hash, row) != row.hash:
            problem = "hash does not match the event's content"
        if problem:
            return Verification(False, count, expected_seq - 1, prev_hash, row.seq, problem)
        if row.seq == remember_seq:
            remembered = row.hash
        expected_seq, prev_hash, count = expected_seq + 1, row.hash, count + 1
    return Verification(True, count, expected_seq - 1, prev_hash, published_hash=remembered)


def export(out: TextIO, fmt: str = "jsonl") -> int:
    """Write every event, oldest first, as JSON lines or CSV; return the count."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for row in stream():
            writer.writerow(["" if getattr(row, f) is None else getattr(row, f) for f in FIELDS])
            count += 1
    else:
        for row in stream():
            out.write(json.dumps(event_dict(row), ensure_ascii=False) + "\n")
            count += 1
    return count
