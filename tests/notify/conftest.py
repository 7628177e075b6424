"""A real SMTP server in the test process (aiosmtpd on a loopback port), and the worker to feed it."""
from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes = b""

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()


@dataclass
class Inbox:
    """What the SMTP server received, and how it answers the next messages (``refuse`` with a code)."""
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP answer
    refuse_data: dict[str, str] = field(default_factory=dict)  # recipient -> answer to the message itself (DATA)
    # ``hold_at`` = k: the k-th message is received, then its answer waits until ``release`` is set
    # (``held`` tells the test it is there): the sender's mail is in flight.
    hold_at: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if address in self.refuse_data:
                return self.refuse_data[address]
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        if self.hold_at and len(self.received) == self.hold_at:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]

    def clear(self) -> None:
        self.received.clear()


class Server:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = Server()
    server.start()
    yield server
    server.inbox.release.set()  # a held answer must not keep the server from stopping
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, "SMTP_URL": smtp.url, "BASE_URL": "https://ratschlag.example.org",
            "MAIL_FROM": "noreply@ratschlag.example.org", "MAIL_RETRY_SECONDS": 60}


@pytest.fixture
def inbox(smtp) -> Inbox:
    return smtp.inbox


@pytest.fixture
def work(app):
    """``work()``: ``ratschlag worker --once`` in this process, once the reset links asked for
    through the form are written (their threads have ended); returns its counts."""
    from app.notify import worker
    from tests.conftest import join_password_resets

    def run():
        join_password_resets()
        return worker.run_once()
    return run
