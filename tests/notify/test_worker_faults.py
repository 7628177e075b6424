"""The worker killed or stopped mid-batch (issue 15): a real ``ratschlag worker`` process against the
SMTP server in the test process, which holds its answer to one mail so the test knows what is in flight."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import services
from app.extensions import db
from app.models import Mail, utcnow
from app.notify import worker
from app.services import notifications
from tests.conftest import REPO


def queue_mails(world, n: int) -> list[str]:
    """``n`` mails to the moderator, routed and committed; their Message-IDs in the order they go out."""
    for index in range(n):
        rec = services.create_recommendation(world.process.id, world.author, f"R{index}", "B")
        services.fire(rec.id, "submit", world.author, None, rec.version)
    notifications.route_pass()
    ids = db.session.scalars(sa.select(Mail.message_id).order_by(Mail.next_attempt_at, Mail.id)).all()
    db.session.rollback()  # nothing held open while the worker process writes
    assert len(ids) == n
    return list(ids)


def start_worker(app, smtp, *arguments: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "RATSCHLAG_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RATSCHLAG_SECRET_KEY": app.config["SECRET_KEY"],
        "RATSCHLAG_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "RATSCHLAG_WORKFLOWS_DIR": app.config["WORKFLOWS_DIR"],
        "RATSCHLAG_SMTP_URL": smtp.url,
        "RATSCHLAG_DEFAULT_LOCALE": "en",
    }
    return subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "worker", *arguments],
                            cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_held(inbox, process: subprocess.Popen) -> None:
    if not inbox.held.wait(60):
        process.kill()
        pytest.fail(f"the worker sent too little: {process.communicate()[0]}")


def statuses() -> Counter:
    db.session.expire_all()
    return Counter(db.session.scalars(sa.select(Mail.status)))


def test_a_worker_killed_after_k_of_n_mails_sends_only_the_one_in_flight_twice(world, smtp, inbox, app, work, monkeypatch):
    n, k = 8, 4
    ids = queue_mails(world, n)
    inbox.hold_at = k  # the k-th mail arrives, and the worker waits for the server's answer
    process = start_worker(app, smtp)
    wait_until_held(inbox, process)
    process.send_signal(signal.SIGKILL)  # killed with the k-th mail in flight
    process.wait(30)
    inbox.release.set()
    # what it recorded: each mail the server had accepted; the one in flight and the untried rest are still its
    assert statuses() == Counter({"sent": k - 1, "sending": n - k + 1})
    assert work().get("sent") is None  # nobody touches them while the dead worker's lease lasts
    later = utcnow() + timedelta(seconds=worker.LEASE_SECONDS + 1)
    monkeypatch.setattr(notifications, "utcnow", lambda: later)
    assert work()["sent"] == n - k + 1
    arrived = Counter(r.message["Message-ID"] for r in inbox.received)
    assert set(arrived) == set(ids)  # every mail arrived
    assert [message_id for message_id, times in arrived.items() if times > 1] == [ids[k - 1]]  # once more: the one in flight
    assert arrived[ids[k - 1]] == 2 and sum(arrived.values()) == n + 1
    assert statuses() == Counter({"sent": n})


def test_sigterm_mid_batch_finishes_the_mail_in_flight_and_gives_the_rest_back(world, smtp, inbox, app, work):
    n, k = 8, 3
    ids = queue_mails(world, n)
    inbox.hold_at = k
    process = start_worker(app, smtp)
    wait_until_held(inbox, process)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    inbox.release.set()  # the mail in flight is accepted now
    started = time.monotonic()
    output = process.communicate(timeout=30)[0]
    assert time.monotonic() - started < 2, output  # about a second (the process's own exit included, on a busy machine)
    assert process.returncode == 0, output
    assert [r.message["Message-ID"] for r in inbox.received] == ids[:k]
    # the mail in flight is recorded sent; the rest is queued again at once, its attempt not counted
    assert statuses() == Counter({"sent": k, "pending": n - k})
    assert set(db.session.scalars(sa.select(Mail.attempts).where(Mail.status == "pending"))) == {0}
    assert work()["sent"] == n - k  # the next worker sends them without waiting for a lease
    assert sorted(r.message["Message-ID"] for r in inbox.received) == sorted(ids)


def test_sigterm_while_waiting_for_the_next_poll_stops_the_worker_at_once(world, smtp, inbox, app):
    queue_mails(world, 1)
    process = start_worker(app, smtp)
    deadline = time.monotonic() + 60
    while not inbox.received:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"the worker sent nothing: {process.communicate()[0]}")
        time.sleep(0.05)
    time.sleep(0.5)  # recorded, and waiting for the next poll
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0]
    assert time.monotonic() - started < 2, output  # about a second, not the rest of the idle wait and a new round
    assert process.returncode == 0, output
    assert statuses() == Counter({"sent": 1})


def test_a_worker_crashing_between_two_mails_of_a_batch_resends_only_the_one_in_flight(world, inbox, work, monkeypatch):
    """The same in the test process (a crash simulated after the server accepted the k-th mail, before
    its record), on every database."""
    n, k = 6, 2
    ids = queue_mails(world, n)

    class Killed(BaseException):
        pass

    sender = worker.transport()
    real_send = sender.send

    def send_then_die(message, mail):
        real_send(message, mail)
        if len(inbox.received) == k:
            raise Killed

    sender.send = send_then_die
    with pytest.raises(Killed):
        worker.drain(sender)
    sender.close()
    db.session.rollback()
    assert statuses() == Counter({"sent": k - 1, "sending": n - k + 1})
    later = utcnow() + timedelta(seconds=worker.LEASE_SECONDS + 1)
    monkeypatch.setattr(notifications, "utcnow", lambda: later)
    assert work()["sent"] == n - k + 1
    arrived = Counter(r.message["Message-ID"] for r in inbox.received)
    assert set(arrived) == set(ids) and sum(arrived.values()) == n + 1 and arrived[ids[k - 1]] == 2


class HangingServer:
    """A mail server that accepts connections and never says a word (the worker waits for its greeting)."""

    def __init__(self):
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"smtp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = threading.Event()
        self.connections: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        try:
            while True:
                connection, _address = self.listener.accept()
                self.connections.append(connection)  # held open, never answered
                self.accepted.set()
        except OSError:
            pass  # closed at the end of the test

    def close(self):
        for connection in self.connections:
            connection.close()
        self.listener.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_stops_a_worker_stuck_on_a_hanging_server_at_once(world, inbox, app, work, monkeypatch, signum):
    """The first SIGTERM (or Ctrl-C) waits for the mail in flight (up to the connection's 30 s timeout);
    the second ends the worker at once. The mail stays claimed and goes out when its lease ends: at least once."""
    [message_id] = queue_mails(world, 1)
    hanging = HangingServer()
    try:
        process = start_worker(app, hanging)
        if not hanging.accepted.wait(60):
            process.kill()
            pytest.fail(f"the worker never connected: {process.communicate()[0]}")
        time.sleep(0.3)  # waiting for the server's greeting
        process.send_signal(signum)
        time.sleep(1)
        assert process.poll() is None  # the first one waits for the mail in flight
        started = time.monotonic()
        process.send_signal(signum)
        output = process.communicate(timeout=20)[0]
        assert time.monotonic() - started < 10, output  # not the 30 s the hanging connection would hold it
        assert process.returncode == -signum, output  # died of the signal, as without a handler
        assert "send the signal again to stop at once" in output and "stopped at once" in output
    finally:
        hanging.close()
    # Nothing recorded: the mail is still claimed, and nobody takes it while its lease lasts.
    assert statuses() == Counter({"sending": 1})
    assert work().get("sent") is None
    later = utcnow() + timedelta(seconds=worker.LEASE_SECONDS + 1)
    monkeypatch.setattr(notifications, "utcnow", lambda: later)
    assert work()["sent"] == 1
    assert [r.message["Message-ID"] for r in inbox.received] == [message_id]
    assert statuses() == Counter({"sent": 1})
