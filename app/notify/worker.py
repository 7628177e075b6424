"""``ratschlag worker``: claim due mails, send them, record the outcome; run the deadline and digest passes.

Delivery is at-least-once and, in normal operation, exactly once. The worker works in batches of
``BATCH`` mails: it claims them in one transaction (marked ``sending`` with a lease; on PostgreSQL
``FOR UPDATE SKIP LOCKED``, so several workers take different mails), composes them, and sends them
over one SMTP connection, recording each mail ``sent`` in a short transaction of its own the moment
the server has accepted it, before the next one goes out. A worker killed mid-batch has recorded
every mail it sent but the one in flight: when the lease ends another worker sends that one again,
with the same ``Message-ID`` (so the receiving side can tell it is the same mail), and the batch's
mails it had not tried yet for the first time. SIGTERM stops the worker after the mail in flight;
a second SIGTERM stops it at once, leaving that mail to the next worker when the lease ends.

Faults: a server that cannot be reached, or answers 4xx, leaves the mail queued for a later attempt
(backoff doubling from ``MAIL_RETRY_SECONDS`` up to six hours; nothing is ever dropped); when the
server is down the rest of the batch is given back untried and the worker stops sending until the
next round. A 5xx refusal marks that mail ``failed`` (superusers see it on the outbox page) and the
worker goes on with the next.

Without ``SMTP_URL`` nothing is sent: each mail is written as an ``.eml`` file into ``MAIL_DIR``.
"""

from __future__ import annotations

import os
import signal
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from flask import current_app

from ..extensions import db
from ..models import utcnow
from ..services import chain_checks, intake, notifications
from ..transactions import is_postgresql, sqlite_lock_file
from .mail import FILE_POLICY, compose_many

MAX_BACKOFF = timedelta(hours=6)
PASS_INTERVAL = 60  # seconds between deadline and digest passes of a long-running worker
BATCH = 100  # mails claimed together and sent over one connection (each recorded as it is sent)
LEASE_SECONDS = 300  # a claimed mail's lease; a batch stops sending after half of it


class TemporaryFailure(Exception):
    """Try again later; ``down`` when the server itself cannot be used now."""

    def __init__(self, message: str, down: bool = False):
        super().__init__(message)
        self.down = down


class PermanentFailure(Exception):
    pass


class FileTransport:
    """No SMTP server configured: write each mail into a folder, for people to read."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def send(self, message: EmailMessage, mail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{mail.id:08d}-{mail.kind}.eml"
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(message.as_bytes(policy=FILE_POLICY))
        os.replace(temporary, target)

    def close(self) -> None:
        pass


class SmtpTransport:
    """``smtp://[USER:PASSWORD@]HOST[:PORT]`` (STARTTLS when offered) or ``smtps://`` (TLS from the start).
    One connection is kept open across mails and opened again when it drops."""

    def __init__(self, url: str, timeout: float = 30):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("RATSCHLAG_SMTP_URL must look like smtp://[USER:PASSWORD@]HOST[:PORT] or smtps://…")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        self.timeout = timeout
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        if self.tls:
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
        if self.user:
            connection.login(self.user, self.password)
        return connection

    def send(self, message: EmailMessage, mail=None) -> None:
        try:
            if self.connection is None:
                self.connection = self._connect()
            refused = self.connection.send_message(message)
        except smtplib.SMTPNotSupportedError as error:
            if self.connection is None:  # while connecting: the server is not usable
                raise TemporaryFailure(f"mail server unavailable: {error}", down=True) from None
            # This mail needs what the server lacks (SMTPUTF8 for a non-ASCII address): it fails
            # alone, visible to superusers; the server is up and the mails behind it go on.
            raise PermanentFailure(f"the mail server cannot take this mail: {error}") from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {error.recipients}") from None
            raise TemporaryFailure(f"recipient refused for now: {error.recipients}") from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError) as error:
            self.close()
            raise TemporaryFailure(f"mail server unavailable: {error}", down=True) from None
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            raise TemporaryFailure(f"the mail server refused the login: {error.smtp_code}", down=True) from None
        except smtplib.SMTPResponseException as error:
            # An answer about this mail (after MAIL FROM or DATA: 554 spam, 552 too large): it fails
            # or waits alone, and the mails behind it go on. Every SMTPException is an OSError, so
            # this comes before the clause below, which is for a server that cannot be reached.
            self._reset()
            if error.smtp_code >= 500:
                raise PermanentFailure(f"{error.smtp_code} {error.smtp_error!r}") from None
            raise TemporaryFailure(f"{error.smtp_code} {error.smtp_error!r}") from None
        except OSError as error:
            self.close()
            raise TemporaryFailure(f"mail server unavailable: {error}", down=True) from None
        if refused:  # some recipients refused, others took it: it is sent
            return

    def _reset(self) -> None:
        try:
            if self.connection is not None:
                self.connection.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.connection = None


def transport():
    url = current_app.config.get("SMTP_URL")
    return SmtpTransport(url) if url else FileTransport(current_app.config["MAIL_DIR"])


def backoff(attempts: int) -> timedelta:
    first = int(current_app.config.get("MAIL_RETRY_SECONDS", 60))
    return min(timedelta(seconds=first * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


class Sending(NamedTuple):
    """A claimed mail on its way: what the transports and the record need, read before the batch
    leaves the database (no ORM object is touched while the mails travel)."""

    id: int
    kind: str
    attempts: int


def send_batch(
    sender,
    composed: list[tuple[Sending, EmailMessage | None]],
    lease_seconds: float,
    stopping: Callable[[], bool] = lambda: False,
    record_sent: Callable[[int], None] | None = None,
) -> tuple[dict, bool]:
    """Send a claimed batch over the transport's one connection; returns the counts and whether the
    server is down.

    Each mail the server accepts is recorded ``sent`` at once, in a short transaction of its own,
    before the next one goes out. The other outcomes (refused for good, skipped, queued again) are
    harmless to meet again and wait to be recorded with the next sent mail or at the end. So a worker
    killed between two mails has recorded every mail it sent except the one in flight, the only one
    a restart can send twice. ``record_sent``: the ``notifications.SentRecorder`` to use (``drain``
    keeps one across its batches).

    Stops early, giving back what it has not tried (queued again, the attempt not counted), when the
    server is down, ``stopping()`` says so (SIGTERM: the mail in flight is finished first), or half
    the lease has passed (so no other worker can take a mail of this batch while this one still
    sends it)."""
    recorder = notifications.SentRecorder() if record_sent is None else None
    mark_sent = record_sent or recorder
    assert mark_sent is not None
    outcomes: list[tuple[int, str, str | None, datetime | None]] = []
    unrecorded: list[tuple[int, str, str | None, datetime | None]] = []  # none of them was sent
    untried: list[int] = []
    retry_at: datetime | None = None
    down = False
    started = time.monotonic()
    try:
        for index, (mail, message) in enumerate(composed):
            if stopping() or index and time.monotonic() - started > lease_seconds / 2:
                untried = [later.id for later, _message in composed[index:]]
                retry_at = utcnow()
                break
            if message is None:
                unrecorded.append((mail.id, "skipped", None, None))
                continue
            try:
                sender.send(message, mail)
            except PermanentFailure as error:
                unrecorded.append((mail.id, "failed", str(error), None))
            except TemporaryFailure as error:
                unrecorded.append((mail.id, "pending", str(error), utcnow() + backoff(mail.attempts)))
                if error.down:
                    down = True
                    untried = [later.id for later, _message in composed[index + 1 :]]
                    retry_at = utcnow() + backoff(mail.attempts)
                    break
            else:
                mark_sent(mail.id)  # before anything else goes out
                outcomes.append((mail.id, "sent", None, None))
    finally:
        if recorder is not None:
            recorder.close()
    notifications.finish_mails(unrecorded, untried, retry_at)
    outcomes.extend(unrecorded)
    counts: dict[str, int] = {}
    for _id, status, _error, _retry in outcomes:
        counts[status] = counts.get(status, 0) + 1
    return counts, down


def deliver(mail_id: int, sender) -> str:
    """Send one claimed mail (``drain`` does this for a batch)."""
    [(mail, message)] = compose_many([mail_id])
    sending = Sending(mail.id, mail.kind, mail.attempts)
    db.session.rollback()
    counts, _down = send_batch(sender, [(sending, message)], LEASE_SECONDS)
    [status] = counts
    return status


def drain(sender, limit: int | None = None, batch: int = BATCH, stopping: Callable[[], bool] = lambda: False) -> dict[str, int]:
    """Send what is due now, until nothing is left, the server is down or ``stopping()`` says so;
    counts per outcome.

    Each batch: claim up to ``batch`` mails in one transaction (on PostgreSQL ``FOR UPDATE SKIP
    LOCKED``, so workers take different ones), compose them (reads only), send them over one SMTP
    connection, recording each mail ``sent`` in its own short transaction as soon as the server has
    accepted it (``send_batch``). A worker killed mid-batch therefore sends again, when the lease of
    its batch ends, only the one mail that was in flight (same ``Message-ID``); the batch's mails it
    had not tried yet go out then for the first time. Every mail goes out at least once, and in
    normal operation exactly once."""
    counts: dict[str, int] = {}
    notifications.route_pass()
    recorder = notifications.SentRecorder()
    try:
        while (limit is None or sum(counts.values()) < limit) and not stopping():
            size = batch if limit is None else min(batch, limit - sum(counts.values()))
            claimed = notifications.claim_mails(size, lease_seconds=LEASE_SECONDS)
            if not claimed:
                break
            composed = [(Sending(mail.id, mail.kind, mail.attempts), message) for mail, message in compose_many(claimed)]
            db.session.rollback()  # no read transaction stays open while the mails travel
            done, down = send_batch(sender, composed, LEASE_SECONDS, stopping, recorder)
            for status, count in done.items():
                counts[status] = counts.get(status, 0) + count
            if down:
                break
    finally:
        recorder.close()
    return counts


def passes(counts: dict[str, int] | None = None) -> tuple[int, int]:
    """The reminder and digest passes (both idempotent), and public intake's housekeeping first:
    unconfirmed submissions deleted when their link expires, residents erased when their
    concerns' retention is over (app/services/intake.py; also idempotent; their numbers go into
    ``counts`` when given)."""
    housekeeping = {"expired": intake.expiry_pass(), "erased": intake.retention_pass()}
    if counts is not None:
        counts.update(housekeeping)
    reminders = notifications.deadline_pass()
    notifications.route_pass()
    return reminders, notifications.digest_pass()


@contextmanager
def single_sqlite_worker(wait_seconds: float = 0) -> Iterator[None]:
    """On SQLite one worker at a time (a lock file beside the database); PostgreSQL takes many.
    Waits up to ``wait_seconds`` for another worker to finish, then gives up with an error."""
    if is_postgresql():
        yield
        return
    with ExitStack() as held:
        try:
            held.enter_context(sqlite_lock_file("worker", wait_seconds))
        except TimeoutError:
            raise RuntimeError(
                "another worker is running on this SQLite database (on SQLite one worker at a time; it sends what is due)"
            ) from None
        yield


def run_once() -> dict[str, int]:
    """``ratschlag worker --once``: the passes, then everything due now, then a check of the audit
    chain if one was asked for."""
    with single_sqlite_worker(wait_seconds=60):
        housekeeping: dict[str, int] = {}
        reminders, digests = passes(housekeeping)
        sender = transport()
        try:
            counts = drain(sender)
        finally:
            sender.close()
        checked = chain_checks.run_waiting()
    if checked is not None:
        counts["chain_checked"] = 1
    return {"reminders": reminders, "digests": digests, **{k: n for k, n in housekeeping.items() if n}, **counts}


class _Flag:
    """Set by the signal handler, read by the loop."""

    def __init__(self) -> None:
        self.value = False

    def set(self) -> None:
        self.value = True

    def is_set(self) -> bool:
        return self.value


def run_forever(idle_seconds: float = 2.0, log=print) -> None:
    """The long-running worker: passes once a minute, sends as mails come due. SIGTERM or SIGINT stops
    it promptly: a batch being sent stops after the mail in flight (the rest of it is given back at
    once, queued as before), and a worker waiting for the next poll wakes up and exits.

    A mail server that stops answering holds the mail in flight until the connection's timeout
    (30 s). A second SIGTERM or SIGINT does not wait for it: the worker dies of that signal at
    once, as if it had no handler. Nothing is recorded then: the mail in flight and the rest of
    its batch stay claimed, and the next worker takes them when their lease ends (at least once:
    the mail in flight may have arrived and then goes out again, with the same Message-ID)."""
    stopped = _Flag()  # not a threading.Event: its set() could deadlock in a handler that interrupts its wait

    def stop(signum, _frame):
        if stopped.is_set():
            # The second signal: die of it now, not after the mail server's timeout. os.write, not
            # print: the handler may interrupt a print of the loop (a reentrant call would fail).
            os.write(2, b"worker: stopped at once; the claimed mails go out again when their lease ends\n")
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        stopped.set()
        os.write(2, b"worker: stopping after the mail in flight; send the signal again to stop at once\n")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with single_sqlite_worker():
        sender = transport()
        last_pass = 0.0
        try:
            while not stopped.is_set():
                if time.monotonic() - last_pass >= PASS_INTERVAL:
                    passes()
                    last_pass = time.monotonic()
                if stopped.is_set():
                    break
                counts = drain(sender, limit=500, stopping=stopped.is_set)
                if counts:
                    log(" ".join(f"{status}={count}" for status, count in sorted(counts.items())))
                if stopped.is_set():
                    break
                checked = chain_checks.run_waiting()  # a check of the audit chain asked for on the admin page
                if checked is not None:
                    log(f"audit chain checked: {'ok' if checked.ok else 'bad'}, {checked.events} events")
                if not counts or counts.get("pending"):
                    sender.close()
                    deadline = time.monotonic() + idle_seconds
                    while not stopped.is_set() and time.monotonic() < deadline:
                        time.sleep(0.05)
        finally:
            sender.close()
            db.session.remove()
