"""``ratschlag worker``: claim due mails, send them, record the outcome; run the deadline and digest passes.

Delivery is at-least-once and, in normal operation, exactly once: a mail is claimed (marked
``sending`` with a lease) in one transaction, sent, and marked ``sent`` in the next. A worker
killed between the two leaves only the mail it was sending; when the lease ends another worker
sends it again, with the same ``Message-ID``, so the receiving side can tell it is the same mail.

Faults: a server that cannot be reached, or answers 4xx, leaves the mail queued for a later attempt
(backoff doubling from ``MAIL_RETRY_SECONDS`` up to six hours; nothing is ever dropped), and the
worker stops sending until the next round. A 5xx refusal marks that mail ``failed`` (superusers see
it on the outbox page) and the worker goes on with the next.

Without ``SMTP_URL`` nothing is sent: each mail is written as an ``.eml`` file into ``MAIL_DIR``.
"""

from __future__ import annotations

import os
import signal
import smtplib
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app

from ..extensions import db
from ..models import Mail, utcnow
from ..services import intake, notifications
from ..transactions import is_postgresql, sqlite_lock_file
from .mail import compose_many

MAX_BACKOFF = timedelta(hours=6)
PASS_INTERVAL = 60  # seconds between deadline and digest passes of a long-running worker


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

    def send(self, message: EmailMessage, mail: Mail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{mail.id:08d}-{mail.kind}.eml"
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(message.as_bytes(policy=policy.SMTPUTF8))
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

    def send(self, message: EmailMessage, mail: Mail) -> None:
        try:
            if self.connection is None:
                self.connection = self._connect()
            refused = self.connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {error.recipients}") from None
            raise TemporaryFailure(f"recipient refused for now: {error.recipients}") from None
        except (
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
            smtplib.SMTPHeloError,
            smtplib.SMTPNotSupportedError,
            OSError,
        ) as error:
            self.close()
            raise TemporaryFailure(f"mail server unavailable: {error}", down=True) from None
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            raise TemporaryFailure(f"the mail server refused the login: {error.smtp_code}", down=True) from None
        except smtplib.SMTPResponseException as error:
            self._reset()
            if error.smtp_code >= 500:
                raise PermanentFailure(f"{error.smtp_code} {error.smtp_error!r}") from None
            raise TemporaryFailure(f"{error.smtp_code} {error.smtp_error!r}") from None
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


def _send(sender, mail: Mail, message: EmailMessage | None, attempts: int) -> str:
    """Send one claimed mail and record the outcome at once; returns the new status. Raises
    ``TemporaryFailure`` (after recording it) when the server is down, so the caller pauses."""
    if message is None:
        notifications.finish_mail(mail.id, "skipped")
        return "skipped"
    try:
        sender.send(message, mail)
    except PermanentFailure as error:
        notifications.finish_mail(mail.id, "failed", str(error))
        return "failed"
    except TemporaryFailure as error:
        notifications.finish_mail(mail.id, "pending", str(error), utcnow() + backoff(attempts))
        if error.down:
            raise
        return "pending"
    notifications.finish_mail(mail.id, "sent")
    return "sent"


def deliver(mail_id: int, sender) -> str:
    """Send one claimed mail (``drain`` does this for a batch)."""
    [(mail, message)] = compose_many([mail_id])
    attempts = mail.attempts
    db.session.rollback()
    return _send(sender, mail, message, attempts)


def drain(sender, limit: int | None = None, batch: int = 50) -> dict[str, int]:
    """Send what is due now, until nothing is left (or the server is down); counts per outcome.

    Mails are claimed and composed in batches, but each is recorded as sent the moment the server
    took it: a worker killed mid-batch resends only the mail in flight (the rest of its batch was
    never sent and goes out once, when the lease ends)."""
    counts: dict[str, int] = {}
    notifications.route_pass()
    while limit is None or sum(counts.values()) < limit:
        claimed = notifications.claim_mails(batch if limit is None else min(batch, limit - sum(counts.values())))
        if not claimed:
            break
        composed = [(mail, message, mail.attempts) for mail, message in compose_many(claimed)]
        db.session.rollback()  # no read transaction stays open while the mails travel
        for index, (mail, message, attempts) in enumerate(composed):
            try:
                status = _send(sender, mail, message, attempts)
            except TemporaryFailure:
                counts["pending"] = counts.get("pending", 0) + 1
                notifications.release_mails([m.id for m, _msg, _a in composed[index + 1 :]], utcnow() + backoff(attempts))
                return counts
            counts[status] = counts.get(status, 0) + 1
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
    """``ratschlag worker --once``: the passes, then everything due now."""
    with single_sqlite_worker(wait_seconds=60):
        housekeeping: dict[str, int] = {}
        reminders, digests = passes(housekeeping)
        sender = transport()
        try:
            counts = drain(sender)
        finally:
            sender.close()
    return {"reminders": reminders, "digests": digests, **housekeeping, **counts}


def run_forever(idle_seconds: float = 2.0, log=print) -> None:
    """The long-running worker: passes once a minute, sends as mails come due; stops on SIGTERM/SIGINT
    after the mail in hand."""
    stopping = []

    def stop(_signum, _frame):
        stopping.append(True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with single_sqlite_worker():
        sender = transport()
        last_pass = 0.0
        try:
            while not stopping:
                if time.monotonic() - last_pass >= PASS_INTERVAL:
                    passes()
                    last_pass = time.monotonic()
                counts = drain(sender, limit=500)
                if counts:
                    log(" ".join(f"{status}={count}" for status, count in sorted(counts.items())))
                if not counts or counts.get("pending"):
                    sender.close()
                    for _tick in range(int(idle_seconds * 10)):
                        if stopping:
                            break
                        time.sleep(0.1)
        finally:
            sender.close()
            db.session.remove()
