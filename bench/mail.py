"""The mail worker's throughput and the reminder pass (issue 15).

1. N queued e-mails (10,000) delivered to a local SMTP sink (aiosmtpd, counting what arrives) by
   two ``ratschlag worker --once`` processes started together (one on SQLite); mails per second, and a check that
   every mail arrived exactly once. Target: at least 200 per second.
2. The reminder pass (``deadline_pass``) over 100,000 recommendations, 1 % of them due within the
   reminder window: the first run (writes the reminders), then the second (finds nothing). Target:
   under 2 s.

    python bench/mail.py [--db sqlite|postgresql|both] [--smoke]

PostgreSQL comes from RATSCHLAG_BENCH_POSTGRES_URL (emptied!). The mails and recommendations are
bulk-loaded (only volume counts); the one recommendation the mails are about, its process and
people go through the services. The table is added to the top of bench/RESULTS.md (not with --smoke).
"""
from __future__ import annotations

import argparse
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from app import create_app, services  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Mail, Notification, Recommendation, utcnow  # noqa: E402


class Sink:
    def __init__(self):
        self.ids: list[str] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids.append(line.split(b":", 1)[1].strip().decode())
                    self.times.append(time.perf_counter())
                break
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench-mail.sqlite3'}"
    url = os.environ.get("RATSCHLAG_BENCH_POSTGRES_URL") or os.environ.get("RATSCHLAG_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("set RATSCHLAG_BENCH_POSTGRES_URL for PostgreSQL (it is emptied)")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def run(kind: str, mails: int, recommendations: int) -> list[tuple]:
    from flask_migrate import upgrade
    folder = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    url = fresh_database(kind, folder)
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    config = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": "bench-secret",
              "SMTP_URL": f"smtp://127.0.0.1:{port}", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
              "REMINDER_DAYS": 7}
    app = create_app(config)
    rows = []
    with app.app_context():
        upgrade()
        process = services.create_process("bench", "Bench", "citizen-recommendation")
        author, _ = services.create_user("author@example.org", "Author")
        moderator, _ = services.create_user("moderator@example.org", "Moderator")
        services.grant_role(process, author, "member")
        services.grant_role(process, moderator, "moderator")
        administrator, _ = services.create_user("administrator@example.org", "Administrator")
        services.grant_role(process, administrator, "administrator")
        rec = services.create_recommendation(process.id, author, "Announce early", "Six weeks ahead.")
        services.fire(rec.id, "submit", author, None, rec.version)
        now = utcnow()
        # -- 1. the mails ------------------------------------------------------------------------
        db.session.execute(sa.delete(Notification))
        mail_rows = [{"user_id": moderator.id, "kind": "your_turn", "message_id": f"<{secrets.token_hex(16)}@bench>",
                      "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                     for _ in range(mails)]
        db.session.execute(sa.insert(Mail.__table__), mail_rows)
        ids = db.session.scalars(sa.select(Mail.id).order_by(Mail.id)).all()
        db.session.execute(sa.insert(Notification.__table__), [
            {"user_id": moderator.id, "kind": "your_turn", "event": "transition", "recommendation_id": rec.id,
             "data": '{"from": "draft", "to": "submitted", "trigger": "submit"}', "delivery": "immediate",
             "mail_id": mail_id, "created_at": now} for mail_id in ids])
        db.session.commit()
        environment = {**os.environ, "RATSCHLAG_DATABASE_URL": url, "RATSCHLAG_INSTANCE_PATH": str(folder),
                       "RATSCHLAG_SECRET_KEY": "bench-secret", "RATSCHLAG_SMTP_URL": f"smtp://127.0.0.1:{port}",
                       "LANG": "C.UTF-8"}
        command = [str(Path(sys.executable).parent / "ratschlag"), "worker", "--once"]
        started = time.perf_counter()
        # PostgreSQL: two workers at once; SQLite: one at a time (docs/notifications.md)
        workers = [subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                   for _ in range(2 if kind == "postgresql" else 1)]
        outputs = [worker.communicate(timeout=3600) for worker in workers]
        elapsed = time.perf_counter() - started
        for worker, (out, err) in zip(workers, outputs):
            if worker.returncode != 0:
                raise SystemExit(err.decode())
        received = len(sink.ids)
        unique = len(set(sink.ids))
        # Delivery rate: from the first mail to arrive to the last (the workers' start-up, importing the
        # application, is in the wall time only).
        sending = max(sink.times[-1] - sink.times[0], 1e-9) if received > 1 else elapsed
        rate = (received - 1) / sending if received > 1 else 0
        note = (f"{received} received, {unique} distinct Message-IDs; {elapsed:.1f} s wall time with start-up; "
                "workers: " + "; ".join(out.decode().strip() for out, _err in outputs))
        rows.append((f"{mails} e-mails, {len(workers)} worker{'s' if len(workers) > 1 else ''}", kind, round(sending, 2), round(rate, 1),
                     "≥ 200/s", "met" if rate >= 200 and unique == received == mails else "**missed**", note))
        # -- 2. the reminder pass -----------------------------------------------------------------
        db.session.rollback()
        due_soon = max(recommendations // 100, 1)
        batch = []
        for n in range(recommendations):
            due = now + (timedelta(days=3) if n < due_soon else timedelta(days=40 + n % 100))
            batch.append({"process_id": process.id, "number": n + 10, "title": f"R{n}", "body": "x", "body_html": "<p>x</p>",
                          "state": "steering_review", "version": 1, "state_entered_at": now, "due_at": due,
                          "created_at": now, "updated_at": now})
            if len(batch) == 10_000:
                db.session.execute(sa.insert(Recommendation.__table__), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(Recommendation.__table__), batch)
        db.session.commit()
        from app.services import notifications
        for label in ("first run", "second run"):
            started = time.perf_counter()
            written = notifications.deadline_pass()
            elapsed = time.perf_counter() - started
            rows.append((f"reminder pass, {recommendations} recs, {label}", kind, round(elapsed, 3), "", "< 2 s",
                         "met" if elapsed < 2 else "**missed**", f"{written} reminders written"))
        db.session.remove()
        db.engine.dispose()
    controller.stop()
    return rows


def versions() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, nothing recorded")
    parser.add_argument("--mails", type=int, help="how many e-mails (default 10,000)")
    args = parser.parse_args()
    mails, recommendations = (50, 1000) if args.smoke else (10_000, 100_000)
    mails = args.mails or mails
    rows = []
    load_before = os.getloadavg()[0]
    for kind in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        rows.extend(run(kind, mails, recommendations))
    load_after = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    header = (f"## Mail worker and reminders — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, "
              f"{os.cpu_count()} cores (shared), {versions()}, {platform.node()}, "
              f"load average {load_before:.1f} when the run began, {load_after:.1f} when it ended\n\n"
              "`ratschlag worker --once` against an aiosmtpd sink on the same machine: two processes started "
              "together on PostgreSQL, one on SQLite (one worker at a time there); per second from the first mail "
              "received to the last. Mails are claimed in batches of 100 and sent over one connection, each recorded "
              "as sent in its own short transaction once the server accepted it. "
              "The reminder pass called in-process.\n\n"
              "| scenario | database | seconds | per second | target | judged | notes |\n| --- | --- | --- | --- | --- | --- | --- |\n")
    table = header + "".join("| " + " | ".join(str(cell) for cell in row) + " |\n" for row in rows)
    print(table)
    if not args.smoke:
        results = REPO / "bench" / "RESULTS.md"
        text = results.read_text()
        marker = "Newest first.\n\n"
        results.write_text(text.replace(marker, marker + table + "\n", 1))


if __name__ == "__main__":
    main()
