"""What did happen: the append-only, hash-chained audit trail (docs/auditing.md).

One chain for the whole installation. ``record`` appends an event inside the caller's write
transaction; appends are serialized (PostgreSQL: a transaction advisory lock, taken by the
server-side ``audit_append``; SQLite: the write transaction began IMMEDIATE). The timestamp
and the data are stored as the exact strings that were hashed.

Every new event is format v2: its hash covers ``data_digest = sha256(salt + canonical data)``
with a fresh random salt, not the data itself. Events written before (v1) hash the data and
keep verifying as they always did.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache, partial
from hashlib import sha256
from itertools import chain
from json.encoder import encode_basestring as _encode_string  # the C encoder json.dumps uses for a string
from typing import Any, TextIO, cast

from sqlalchemy import Table, create_engine, insert, or_, select, text
from sqlalchemy.pool import NullPool

from .extensions import db
from .models import CLOSED, AuditEvent, SteeringSession

GENESIS = "0" * 64
FIELDS = (
    "seq",
    "v",
    "at",
    "actor_id",
    "action",
    "subject_type",
    "subject_id",
    "data",
    "salt",
    "data_digest",
    "prev_hash",
    "hash",
)
FORMAT = 2  # the format of every event written now
_STREAM_BATCH = 2000


def timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_data(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(seq: int, at: str, actor_id: int | None, action: str, subject_type: str, subject_id: int | None, data: Any) -> str:
    """The string an event's hash covers after its ``prev_hash`` (docs/auditing.md)."""
    return canonical_data(
        {
            "seq": seq,
            "at": at,
            "actor_id": actor_id,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "data": data,
        }
    )


def compute_hash(
    prev_hash: str, seq: int, at: str, actor_id: int | None, action: str, subject_type: str, subject_id: int | None, data: Any
) -> str:
    """The hash of a v1 event."""
    return sha256((prev_hash + canonical(seq, at, actor_id, action, subject_type, subject_id, data)).encode("utf-8")).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def digest_data(salt: str, data_text: str) -> str:
    """A v2 event's ``data_digest``: ``data_text`` is the canonical JSON of its data."""
    return sha256((salt + data_text).encode("utf-8")).hexdigest()


def canonical_v2(
    seq: int, at: str, actor_id: int | None, action: str, subject_type: str, subject_id: int | None, data_digest: str
) -> str:
    """The string a v2 event's hash covers after its ``prev_hash``."""
    return canonical_data(
        {
            "seq": seq,
            "v": 2,
            "at": at,
            "actor_id": actor_id,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "data_digest": data_digest,
        }
    )


def compute_hash_v2(
    prev_hash: str,
    seq: int,
    at: str,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    data_digest: str,
) -> str:
    return sha256(
        (prev_hash + canonical_v2(seq, at, actor_id, action, subject_type, subject_id, data_digest)).encode("utf-8")
    ).hexdigest()


def event_hash(event: dict) -> str:
    """The hash an exported event (a dict of the contract's fields) must carry, either format."""
    fields = (
        event["prev_hash"],
        event["seq"],
        event["at"],
        event["actor_id"],
        event["action"],
        event["subject_type"],
        event["subject_id"],
    )
    if event.get("v", 1) == 1:
        return compute_hash(*fields, event["data"])
    return compute_hash_v2(*fields, event["data_digest"])


_EVENTS = cast(Table, AuditEvent.__table__)
# Prepared once: every audited change runs these.
_HEAD = select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
_APPEND = insert(_EVENTS)
# PostgreSQL: lock, read the head, digest, hash and insert in one round trip (migration 0007).
_APPEND_IN_SERVER = text(
    "SELECT event_seq, event_prev_hash, event_data_digest, event_hash FROM audit_append("
    ":at, :actor_id, :action, :subject_type, :subject_id, :data, :salt, :before_digest, :after_seq)"
)


def server_pieces(at: str, actor_id: int | None, action: str, subject_type: str, subject_id: int | None) -> tuple[str, str]:
    """The canonical v2 text before the data digest and after the sequence number, for the server.

    The keys sort as action, actor_id, at | data_digest, seq | subject_id, subject_type, v: the
    server puts the digest and the number it assigns between the two pieces, so the data itself
    (which may hold any text) is never searched or split.
    """
    before = canonical_data({"action": action, "actor_id": actor_id, "at": at})[:-1] + ',"data_digest":"'
    after = "," + canonical_data({"subject_id": subject_id, "subject_type": subject_type, "v": 2})[1:]
    return before, after


def record(action: str, subject: Any, actor: Any, data: dict) -> AuditEvent:
    """Append one event about ``subject`` done by ``actor`` (a user, or None for the system).

    Must run inside ``app.transactions.write_transaction`` so the event commits with the change. The
    number and the previous hash are read under the chain's lock: on SQLite the write
    transaction already holds the database's only write lock; on PostgreSQL the server-side
    ``audit_append`` takes an advisory lock, digests the salted data and hashes the canonical
    text written here around the sequence number it assigns: the same bytes as
    ``compute_hash_v2``.
    """
    session = db.session
    session.flush()  # the subject needs its id
    at = timestamp()
    actor_id = actor.id if actor is not None else None
    subject_type, subject_id = subject.audit_subject_type, subject.id
    # Round-trip through JSON so the stored text is what a reader of an export writes again from the
    # parsed data (integer keys, for one, sort differently once they are strings).
    data_text = canonical_data(json.loads(canonical_data(data)))
    row = {
        "v": FORMAT,
        "at": at,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": data_text,
        "salt": new_salt(),
    }
    if session.get_bind().dialect.name == "postgresql":
        before, after = server_pieces(at, actor_id, action, subject_type, subject_id)
        row["seq"], row["prev_hash"], row["data_digest"], row["hash"] = session.execute(
            _APPEND_IN_SERVER, {**row, "before_digest": before, "after_seq": after}
        ).one()
        return AuditEvent(**row)
    last = session.execute(_HEAD).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    row["data_digest"] = digest_data(row["salt"], data_text)
    row.update(
        seq=seq,
        prev_hash=prev_hash,
        hash=compute_hash_v2(prev_hash, seq, at, actor_id, action, subject_type, subject_id, row["data_digest"]),
    )
    session.execute(_APPEND, row)  # a plain INSERT: nothing in the session refers to it
    return AuditEvent(**row)


@lru_cache(maxsize=1024)
def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _quoted(value: str) -> str:
    """``value`` as a JSON string: plain ASCII (timestamps, digests) without a call to ``json``."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return _json_string(value)


def _stored_hash(prev_hash: str, row: Any) -> str:
    """The hash of a stored event, written straight from its stored fields: the same bytes as
    ``compute_hash`` (v1) or ``compute_hash_v2`` (keys in sorted order, no spaces), without parsing
    and re-serializing the data, which is stored in canonical form. Stored data that is not exactly
    what was hashed gives another hash, so nothing slips through. ``row`` holds the fields in
    ``FIELDS`` order; a v2 row's ``data_digest`` must be a string."""
    seq, v, at, actor_id, action, subject_type, subject_id, data, _salt, data_digest, _prev, _hash = row
    head = f'{{"action":{_json_string(action)},"actor_id":{"null" if actor_id is None else int(actor_id)},"at":{_quoted(at)},'
    tail = (
        f'"seq":{int(seq)},"subject_id":{"null" if subject_id is None else int(subject_id)},'
        f'"subject_type":{_json_string(subject_type)}'
    )
    canonical = f'{head}"data":{data},{tail}}}' if v == 1 else f'{head}"data_digest":{_quoted(data_digest)},{tail},"v":2}}'
    return sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def event_dict(row: Any, data: bool = True, actor: bool = True) -> dict:
    """The contract's event fields, ``data`` parsed; ``row`` is a model or a result row.

    ``data=False`` withholds the data and salt, ``actor=False`` who did it, from a reader who may
    not know them. A v1 event with its data withheld, or any event with its actor withheld, cannot
    be recomputed by the reader: it says ``withheld: true``. A v2 event whose payload was erased
    says ``erased: true``; its ``data_digest`` and ``hash`` still check.
    """
    erased = row.v == 2 and row.data is None
    item = {
        "seq": row.seq,
        "v": row.v,
        "at": row.at,
        "actor_id": row.actor_id if actor else None,
        "action": row.action,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "data": json.loads(row.data) if data and not erased else None,
        "salt": row.salt if data else None,
        "data_digest": row.data_digest,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }
    if erased:
        item["erased"] = True
    if (not actor and row.actor_id is not None) or (row.v == 1 and not data):
        item["withheld"] = True
    return item


def stream(*where: Any) -> Iterator[Any]:
    """Every event (or those ``where`` selects), oldest first, as rows with the fields in
    ``FIELDS`` order, streamed in batches (memory stays flat)."""
    statement = select(*(_EVENTS.c[name] for name in FIELDS)).where(*where).order_by(_EVENTS.c.seq)
    yield from db.session.execute(statement.execution_options(yield_per=_STREAM_BATCH))


_RAW_BATCH = 20_000


@contextmanager
def raw_cursor(statement: Any, batch: int = _RAW_BATCH, connection: Any = None) -> Iterator[Iterable[tuple]]:
    """The rows of ``statement`` as plain tuples straight from the database driver: the executed
    cursor, to iterate (on PostgreSQL a server-side cursor fetching ``batch`` rows at a time; SQLite
    steps row by row). What the long passes over the whole chain read, without building a result
    row per event. Memory stays flat. Parameters are inlined (``literal_binds``): only for
    statements whose values the code itself wrote. Read through ``connection`` (SQLAlchemy's),
    else the session's."""
    connection = connection if connection is not None else db.session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    assert driver is not None
    postgres = connection.dialect.name == "postgresql"
    cursor = driver.cursor(name=f"ratschlag_raw_{secrets.token_hex(4)}") if postgres else driver.cursor()
    try:
        if postgres:
            cursor.itersize = batch
        cursor.execute(sql)
        # A server-side cursor steps row by row in Python; its batches as lists are read in C.
        yield chain.from_iterable(iter(partial(cursor.fetchmany, batch), [])) if postgres else cursor
    finally:
        cursor.close()


def raw_rows(statement: Any, batch: int = _RAW_BATCH, connection: Any = None) -> Iterator[tuple]:
    """``raw_cursor``'s rows, as a generator."""
    with raw_cursor(statement, batch, connection) as rows:
        yield from rows


def _chain(after: int | None = None, upto: int | None = None, connection: Any = None):
    """The events after ``after`` (up to ``upto``), oldest first, fields in ``FIELDS`` order, as plain
    tuples (``verify``): a ``raw_cursor``. Without ``after``, from the very first row, whatever its
    number: an event inserted with a number below 1 must be read to be found."""
    statement = select(*(_EVENTS.c[name] for name in FIELDS))
    if after is not None:
        statement = statement.where(_EVENTS.c.seq > after)
    if upto is not None:
        statement = statement.where(_EVENTS.c.seq <= upto)
    return raw_cursor(statement.order_by(_EVENTS.c.seq), connection=connection)


@dataclass
class Verification:
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    bad_seq: int | None = None
    reason: str | None = None
    published_hash: str | None = None  # the hash found at a published head's position
    erased: int = 0  # v2 events whose payload was erased: counted, their digest cannot be checked
    anchors: int = 0  # heads recorded in closed minutes, each found in the chain

    def __str__(self) -> str:
        if self.ok:
            erased = f" ({self.erased} erased payloads not checked)" if self.erased else ""
            anchors = f" ({self.anchors} heads in closed minutes checked)" if self.anchors else ""
            return f"ok: {self.count} events, head {self.head_hash}{erased}{anchors}"
        if self.bad_seq is None:  # not one event: the reason names what is wrong (a session's minutes)
            return f"bad: {self.reason}"
        return f"bad: event {self.bad_seq}: {self.reason}"


#: The chain's advisory lock on PostgreSQL (migrations 0006 and 0007 take the same one in ``audit_append``).
CHAIN_LOCK_KEY = 0x5261747363686C


def locked_head() -> tuple[int, str]:
    """Inside a write transaction: the head as the next ``record`` will see it. On PostgreSQL the
    chain's advisory lock is taken first (``audit_append`` takes it again, which a transaction may),
    so no other append can come between; on SQLite the write transaction already excludes them."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    return head()


def head() -> tuple[int, str]:
    """The newest event's sequence number and hash (0 and the genesis hash for an empty chain)."""
    last = db.session.execute(_HEAD).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


Progress = Callable[[int], None]


def counted(rows: Iterable[Any], progress: Progress | None, every: int = 5000) -> Iterable[Any]:
    """``rows`` unchanged, telling ``progress`` how many went by, every ``every`` rows (a terminal's
    progress bar). Without ``progress``, ``rows`` itself: a generator between a cursor and the loop
    that reads it costs a sixth of ``verify``'s time."""
    return rows if progress is None else _counting(rows, progress, every)


def _counting(rows: Iterable[Any], progress: Progress, every: int) -> Iterator[Any]:
    passed = 0
    for row in rows:
        yield row
        passed += 1
        if passed == every:
            progress(passed)
            passed = 0
    if passed:
        progress(passed)


def verify(expect_head: tuple[int, str] | None = None, progress: Progress | None = None) -> Verification:
    """Recompute the whole chain; stop at the first bad event.

    With ``expect_head`` (a head published earlier, outside the database), the chain must
    still hold that event with that hash: this finds a truncated chain, and one that was
    rewritten with every hash recomputed.
    """
    result = _verify_chain(progress, expect_head[0] if expect_head else None)
    if result.ok:
        result = _check_anchors(result)
    if not result.ok or expect_head is None:
        return result
    seq, expected = expect_head
    if result.count < seq:
        return Verification(
            False,
            result.count,
            result.head_seq,
            result.head_hash,
            seq,
            f"the chain ends at event {result.count}, before the published head {seq}: it was truncated",
        )
    if result.published_hash != expected:
        return Verification(
            False,
            result.count,
            result.head_seq,
            result.head_hash,
            seq,
            "this is not the published event: the chain was rewritten",
        )
    return result


#: A chain at least this long is checked in two halves at once, the second half in a forked process:
#: a small server's second core halves the time (``bench/audit_chain.py``). Shorter chains take
#: longer to fork for than to check.
PARALLEL_FROM = 200_000


def _verify_chain(progress: Progress | None, remember_seq: int | None) -> Verification:
    """``verify_rows`` over the whole chain, with the same verdicts, in two halves where that is faster.

    Each event's check needs only the previous event's *stored* hash, so the second half can start
    from the stored hash of the first half's last event while the first half proves that very hash.
    Where the first half does not end at that event (events missing there), or the second process
    fails, the second half is checked here after the first, as in one pass."""
    total = head()[0]
    url = db.engine.url
    if (
        total < PARALLEL_FROM
        or "fork" not in multiprocessing.get_all_start_methods()
        or (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))
    ):
        with _chain() as rows:
            return verify_rows(counted(rows, progress), remember_seq)
    middle = total // 2
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0, lock=False) if progress else None  # the second half's progress (the child writes it)
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_second_half, args=(sender, url, middle, total, remember_seq, done), daemon=True)
    child.start()
    sender.close()
    told = 0

    def both(count: int) -> None:
        nonlocal told
        assert progress is not None and done is not None
        seen = done.value
        progress(count + seen - told)
        told = seen

    try:
        with _chain(upto=middle) as rows:
            first = verify_rows(counted(rows, both if progress else None), remember_seq)
        second = receiver.recv() if first.ok and first.head_seq == middle else None
    except EOFError:  # the second process died: check its half here
        second = None
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
    if not first.ok:
        return first
    if progress and done is not None and done.value > told:
        progress(done.value - told)
    if second is None:
        with _chain(after=first.head_seq, upto=total) as rows:
            second = verify_rows(rows, remember_seq, start=(first.head_seq + 1, first.head_hash))
    return replace(
        second,
        count=first.count + second.count,
        erased=first.erased + second.erased,
        published_hash=first.published_hash or second.published_hash,
    )


def _second_half(sender: Any, url: Any, middle: int, total: int, remember_seq: int | None, done: Any) -> None:
    """In the forked process: check the events after ``middle`` through a connection of its own (the
    parent's are never touched here), starting from the stored hash of event ``middle``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            stored = connection.execute(select(_EVENTS.c.hash).where(_EVENTS.c.seq == middle)).scalar()

            def tell(count: int) -> None:
                done.value += count

            with _chain(middle, total, connection) as rows:
                rows = counted(rows, tell if done is not None else None)
                sender.send(verify_rows(rows, remember_seq, start=(middle + 1, stored or "")))
    finally:
        engine.dispose()
        sender.close()


#: A head as closing a session records it: ``SEQ:HASH``, the hash 64 lowercase hex characters; a
#: number of more than 18 digits is no event's (it would not even fit the database's integer).
_RECORDED_HEAD = re.compile(r"([1-9][0-9]{0,17}):([0-9a-f]{64})")


def _check_anchors(result: Verification) -> Verification:
    """Every closed session's minutes carry the head the chain had when it closed (``SEQ:HASH``,
    printed in the minutes): each must still be that event. A chain rewritten with every hash
    recomputed verifies on its own; it cannot also match minutes that were published before."""
    heads = db.session.execute(
        select(SteeringSession.id, SteeringSession.chain_head)
        .where(or_(SteeringSession.status == CLOSED, SteeringSession.chain_head.is_not(None)))
        .order_by(SteeringSession.id)
    ).all()
    recorded: dict[int, tuple[int, str]] = {}
    for session_id, head in heads:
        readable = _RECORDED_HEAD.fullmatch(head) if isinstance(head, str) else None
        if readable is None:
            # Closing always records the head, so a closed session without a readable one was changed
            # behind the application's back: that fails like any other tampering, naming the session.
            shown = "none recorded" if head is None else repr(head[:80])
            return replace(
                result,
                ok=False,
                bad_seq=None,
                reason=f"session {session_id}: the head recorded in its minutes is unreadable ({shown}; closing "
                "records SEQ:HASH), so the chain cannot be checked against them",
            )
        recorded[session_id] = (int(readable[1]), readable[2])
    wanted = sorted({seq for seq, _digest in recorded.values()})
    found: dict[int, str] = {}
    for start in range(0, len(wanted), 1000):
        found.update(
            db.session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(wanted[start : start + 1000])))
            .tuples()
            .all()
        )
    for session_id, (seq, digest) in recorded.items():
        if found.get(seq) != digest:
            return replace(
                result,
                ok=False,
                bad_seq=seq,
                reason=f"the minutes of session {session_id} record this event as {digest[:16]}…, the chain holds "
                f"{(found.get(seq) or 'no such event')[:16]}…: one of them was changed after the session closed",
            )
    if problem := _check_closings(result.head_seq):
        return replace(result, ok=False, bad_seq=None, reason=problem)
    return replace(result, anchors=len(recorded))


def _closings(up_to: int) -> dict[int, list[tuple[int, str]]]:
    """Every ``session.closed`` event up to event ``up_to``, per session: its number and the head it
    recorded (from its payload; an erased payload's head is still known, as the event just before it:
    closing reads the head under the chain's lock and appends its event right after it)."""
    found: dict[int, list[tuple[int, str]]] = {}
    rows = db.session.execute(
        select(AuditEvent.seq, AuditEvent.subject_id, AuditEvent.prev_hash, AuditEvent.data)
        .where(AuditEvent.action == "session.closed", AuditEvent.seq <= up_to)
        .order_by(AuditEvent.seq)
    )
    for seq, session_id, prev_hash, data in rows:
        if session_id is None:  # not written by closing (its subject is the session): nothing to compare
            continue
        recorded = None
        if data is not None:
            try:
                recorded = json.loads(data).get("chain_head")
            except (ValueError, AttributeError):
                recorded = None
        found.setdefault(session_id, []).append((seq, recorded if isinstance(recorded, str) else f"{seq - 1}:{prev_hash}"))
    return found


def _check_closings(up_to: int) -> str | None:
    """Closing a session is final (there is no reopening in the application), and the closing event
    in the chain holds the head the minutes printed. So a session the events say was closed must
    still be closed, once, carrying that head: a session set open again, or closed again, or given
    another head, in the database, would otherwise drop out of (or slip past) the check of the minutes."""
    table = {
        session_id: (status, head)
        for session_id, status, head in db.session.execute(
            select(SteeringSession.id, SteeringSession.status, SteeringSession.chain_head)
        ).tuples()
    }  # a few per process and year: read whole
    for session_id, closings in sorted(_closings(up_to).items()):
        seq, head = closings[-1]
        shown = f"{head.partition(':')[0]}:{head.partition(':')[2][:16]}…"
        if len(closings) > 1:
            return (
                f"session {session_id}: closed {len(closings)} times (events "
                f"{', '.join(str(s) for s, _head in closings)}), but a closed session is never reopened: its row was "
                "changed behind the application's back; the heads of the minutes of each closing are in those events"
            )
        status, now = table.get(session_id, (None, None))
        if status != CLOSED:
            state = "has no such session" if status is None else f"says it is {status}"
            return (
                f"session {session_id}: closed at event {seq} (its minutes record {shown}), but the table {state}"
                f"{'' if status is None or now else ' with no head recorded'}: a closed session is never reopened, so "
                "its row was changed behind the application's back, and its minutes would no longer be checked"
            )
        if now != head:
            return (
                f"session {session_id}: the head recorded in its minutes is not the one its closing recorded at event "
                f"{seq} ({shown}): it was changed after the session closed"
            )
    return None


def verify_rows(rows: Iterable[Any], remember_seq: int | None = None, start: tuple[int, str] = (1, GENESIS)) -> Verification:
    """Check a chain given as rows with the event fields in ``FIELDS`` order, oldest first (from
    any database): every link, every hash, and every v2 ``data_digest`` from the stored data and
    salt. The stored data is hashed as the text it is, never parsed.

    The common case (a v2 event with its payload, in order) is written out inline: one digest, one
    hash, the canonical text built in one f-string with the C JSON string encoder; every other
    event, and any event that does not check, takes the general path (``_check_row``), which
    names the problem. Both give the same verdicts. ``start``: the number and the previous hash
    the first row must carry (a part of the chain: ``count`` counts only its rows)."""
    (expected_seq, prev_hash), count, erased, remembered = start, 0, 0, None
    quoted: dict[Any, str] = {}  # the few actions and subject types, each as a JSON string
    digest, encode_string = sha256, _encode_string  # local names: this loop runs once per event
    for row in rows:
        seq, v, at, actor_id, action, subject_type, subject_id, data, salt, data_digest, row_prev, row_hash = row
        action_json = quoted.get(action) or quoted.setdefault(action, _json_string(action))
        type_json = quoted.get(subject_type) or quoted.setdefault(subject_type, _json_string(subject_type))
        # The numbers go into the text as the driver gives them: a value that is no integer writes
        # another text, so its hash does not match and the general path names the problem.
        if (
            v == 2
            and seq == expected_seq
            and row_prev == prev_hash
            and data is not None
            and salt is not None
            and data_digest is not None
            and digest((salt + data).encode()).hexdigest() == data_digest
            and digest(
                (
                    f'{prev_hash}{{"action":{action_json},"actor_id":{"null" if actor_id is None else actor_id},'
                    f'"at":{encode_string(at)},"data_digest":"{data_digest}","seq":{seq},'
                    f'"subject_id":{"null" if subject_id is None else subject_id},'
                    f'"subject_type":{type_json},"v":2}}'
                ).encode()
            ).hexdigest()
            == row_hash
        ):
            pass
        else:
            problem, was_erased = _check_row(row, expected_seq, prev_hash)
            if problem:
                return Verification(False, count, expected_seq - 1, prev_hash, seq, problem, erased=erased)
            erased += was_erased
        if seq == remember_seq:
            remembered = row_hash
        expected_seq, prev_hash, count = expected_seq + 1, row_hash, count + 1
    return Verification(True, count, expected_seq - 1, prev_hash, published_hash=remembered, erased=erased)


def _check_row(row: Any, expected_seq: int, prev_hash: str) -> tuple[str | None, int]:
    """One event checked in full: the problem (or None) and whether its payload was erased."""
    seq, v, _at, _actor, _action, _type, _id, data, salt, data_digest, row_prev, row_hash = row
    problem, erased = None, 0
    if seq != expected_seq:
        problem = (
            f"expected sequence number {expected_seq} here: an event was deleted"
            if seq > expected_seq
            else "sequence number out of order: an event was inserted"
        )
    elif row_prev != prev_hash:
        problem = "prev_hash is not the previous event's hash"
    elif v == 2:
        if data_digest is None:
            problem = "a v2 event without data_digest"
        elif data is None and salt is None:
            erased = 1
        elif data is None or salt is None:
            problem = "data and salt are either both stored or both erased"
        elif sha256((salt + data).encode("utf-8")).hexdigest() != data_digest:
            problem = "data_digest does not match the event's data and salt"
    elif v != 1:
        problem = f"unknown event format v={v}"
    elif data is None:
        problem = "a v1 event without data: its payload cannot be erased"
    if problem is None and _stored_hash(prev_hash, row) != row_hash:
        problem = "hash does not match the event's content"
    return problem, erased


CSV_FIELDS = FIELDS + ("withheld", "erased")


def export(out: TextIO, fmt: str = "jsonl", reader: Any = None, progress: Progress | None = None) -> int:
    """Write every event, oldest first, as JSON lines or CSV; return the count.

    With ``reader`` (``app.disclosure.Reader``) each event is written as that reader may see it:
    data and salt null where they may not read it, still verifiable. CSV writes ``data`` as its
    canonical JSON text, and an empty cell for null.
    """
    events = counted(stream(), progress)
    rows = ((row, True, True) for row in events) if reader is None else reader.judged(events)
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for row, data, actor in rows:
            item = event_dict(row, data, actor)
            if item["data"] is not None:
                item["data"] = canonical_data(item["data"])
            writer.writerow(["true" if item.get(f) is True else "" if item.get(f) is None else item[f] for f in CSV_FIELDS])
            count += 1
    else:
        for row, data, actor in rows:
            out.write(json.dumps(event_dict(row, data, actor), ensure_ascii=False) + "\n")
            count += 1
    return count
