#!/usr/bin/env python3
"""Load test: concurrent clients against gunicorn, a realistic mix of reads, comments and transitions.

    python bench/load.py                      # 50 clients, 60 s, SQLite and PostgreSQL
    python bench/load.py --db sqlite --seconds 10 --clients 10
    python bench/load.py --smoke              # a few seconds, used by the test suite

Prints one table and, unless --smoke, adds it to bench/RESULTS.md with the machine, date and commit.
Errors (5xx, broken connections, unexpected answers) must be zero; 409 answers to two clients
moving the same recommendation at once are correct and counted apart as conflicts.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("RATSCHLAG_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ratschlag_bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_postgres(url: str) -> None:
    import sqlalchemy as sa
    server, name = url.rsplit("/", 1)
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def seed(env: dict, recommendations: int, clients: int) -> dict:
    """A member per client, a few moderators and administrators, each with a token, and recommendations
    waiting in moderation and in the steering round."""
    code = f"""
import json
from app import create_app, services
from app.services import fire
app = create_app()
with app.app_context():
    process = services.create_process("bench", "Bench", "citizen-recommendation")
    tokens = {{"member": [], "moderator": [], "administrator": []}}
    people = {{}}
    for role, count in (("member", {clients}), ("moderator", 8), ("administrator", 8)):
        for n in range(count):
            user, _ = services.create_user(f"{{role}}{{n}}@bench.example", f"{{role.title()}} {{n}}", password="bench-password-" + str(n))
            services.grant_role(process, user, role)
            tokens[role].append(services.create_token(user, "bench"))
            people.setdefault(role, user)
    ids = []
    for n in range({recommendations}):
        rec = services.create_recommendation(process.id, people["member"], f"Empfehlung {{n}}", "Ein **Text** zum Lesen. " * 20)
        rec = fire(rec.id, "submit", people["member"], None, rec.version)
        rec = fire(rec.id, "start_moderation", people["moderator"], None, rec.version)
        if n % 2:
            rec = fire(rec.id, "forward", people["moderator"], None, rec.version)
        for c in range(5):
            services.create_comment(rec.id, people["member"], f"Kommentar {{c}}")
        ids.append((rec.id, rec.number))
    print(json.dumps({{"tokens": tokens, "recs": ids}}))
"""
    out = subprocess.run([str(BIN / "python"), "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Stats:
    def __init__(self):
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.conflicts = 0
        self.lock = threading.Lock()

    def add(self, seconds: float, status: int | None, expected: tuple[int, ...], what: str,
            races: tuple[int, ...] = (409,)):
        """``races``: answers that mean another client acted first (counted, not errors)."""
        with self.lock:
            self.latencies.append(seconds)
            if status in races:
                self.conflicts += 1
            elif status not in expected:
                self.errors.append(f"{what}: {status}")


def request(method: str, url: str, token: str | None = None, body: dict | None = None) -> tuple[int | None, dict | None]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if r.headers.get_content_type() == "application/json" else None
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None, None


def client(index: int, base: str, seed_data: dict, stats: Stats, stop: float, rng: random.Random):
    api, recs = f"{base}/api/v1", seed_data["recs"]
    tokens = {role: seed_data["tokens"][role][index % len(seed_data["tokens"][role])] for role in seed_data["tokens"]}
    while time.monotonic() < stop:
        rec_id, number = rng.choice(recs)
        roll = rng.random()
        started = time.perf_counter()
        if roll < 0.25:
            status, _ = request("GET", f"{api}/recommendations/{rec_id}", tokens["member"])
            stats.add(time.perf_counter() - started, status, (200,), "read recommendation")
        elif roll < 0.45:
            status, _ = request("GET", f"{api}/processes/bench/recommendations?page={rng.randint(1, 3)}")
            stats.add(time.perf_counter() - started, status, (200,), "read list")
        elif roll < 0.55:
            status, _ = request("GET", f"{api}/recommendations/{rec_id}/comments", tokens["member"])
            stats.add(time.perf_counter() - started, status, (200,), "read comments")
        elif roll < 0.70:
            status, _ = request("GET", f"{base}/processes/bench/recommendations/{number}")  # anonymous:
            stats.add(time.perf_counter() - started, status, (200, 404), "read page")  # 404 while in moderation
        elif roll < 0.88:
            status, _ = request("POST", f"{api}/recommendations/{rec_id}/comments", tokens["member"], {"body": "Unter Last."})
            stats.add(time.perf_counter() - started, status, (201,), "comment")
        else:
            _, current = request("GET", f"{api}/recommendations/{rec_id}", tokens["moderator"])
            if not current:
                stats.add(time.perf_counter() - started, None, (200,), "read before transition")
                continue
            started = time.perf_counter()
            if current["state"] == "in_moderation":
                status, _ = request("POST", f"{api}/recommendations/{rec_id}/transitions", tokens["moderator"],
                                    {"trigger": "forward", "version": current["version"]})
            else:
                status, _ = request("POST", f"{api}/recommendations/{rec_id}/transitions", tokens["administrator"],
                                    {"trigger": "send_back", "version": current["version"], "note": "Noch einmal."})
            # 409: someone moved it first; 404: it moved back into moderation, which administrators do not see
            stats.add(time.perf_counter() - started, status, (200,), "transition", races=(409, 404))


def run(db: str, clients: int, seconds: float, workers: int, recommendations: int) -> dict:
    with tempfile.TemporaryDirectory() as instance:
        url = f"sqlite:///{instance}/bench.sqlite3" if db == "sqlite" else POSTGRES
        if db == "postgresql":
            prepare_postgres(url)
        env = {**os.environ, "RATSCHLAG_DATABASE_URL": url, "RATSCHLAG_INSTANCE_PATH": instance,
               "RATSCHLAG_SECRET_KEY": "bench", "RATSCHLAG_WORKFLOWS_DIR": str(REPO / "app" / "workflows")}
        subprocess.run([str(BIN / "ratschlag"), "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
        # Every client comes from 127.0.0.1 where real users come from many addresses: lift only the
        # per-address limit; the per-token limits stay as configured.
        Path(instance, "config.py").write_text('API_LIMIT_PER_ADDRESS = "1000000 per minute"\n')
        seed_data = seed(env, recommendations, clients)
        port = free_port()
        server = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                                   "--log-level", "warning", "app:create_app()"], env=env, cwd=REPO)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                if request("GET", f"{base}/api/v1/processes")[0] == 200:
                    break
                time.sleep(0.1)
            stats, stop = Stats(), time.monotonic() + seconds
            threads = [threading.Thread(target=client, args=(i, base, seed_data, stats, stop, random.Random(i)))
                       for i in range(clients)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        verify = subprocess.run([str(BIN / "ratschlag"), "audit", "verify"], env=env, cwd=REPO, capture_output=True, text=True)
    latencies = sorted(stats.latencies)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"db": db, "clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "throughput": round(len(latencies) / elapsed, 1), "p50_ms": round(quantiles[49] * 1000, 1),
            "p95_ms": round(quantiles[94] * 1000, 1), "p99_ms": round(quantiles[98] * 1000, 1),
            "errors": len(stats.errors), "conflicts": stats.conflicts, "audit": verify.stdout.strip() or verify.stderr.strip(),
            "error_samples": stats.errors[:5]}


def progress(text: str) -> None:
    """What a long run does now, on one line of standard error, only when that is a terminal: piped or
    recorded runs print only their tables (issue 18, item 13)."""
    if sys.stderr.isatty():
        print(f"\r\033[K{text[:150]}", end="", file=sys.stderr, flush=True)


def machine() -> str:
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return (f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}, {os.cpu_count()} cores, "
            f"{int(memory) // 1024 // 1024} GiB, Python {platform.python_version()}")


def table(results: list[dict], workers: int) -> str:
    lines = ["| database | clients | seconds | requests | req/s | p50 ms | p95 ms | p99 ms | errors | races lost (409/404) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['db']} | {r['clients']} | {r['seconds']} | {r['requests']} | {r['throughput']} | {r['p50_ms']} | "
                     f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {r['conflicts']} |")
    return "\n".join(lines) + f"\n\ngunicorn with {workers} sync workers on the same machine as the clients (Python threads, " \
        "one user and token each; the per-address limit lifted since all come from 127.0.0.1); " \
        "audit chain after the run: " + "; ".join(f"{r['db']}: {r['audit']}" for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--recommendations", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, nothing recorded")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.seconds, args.workers, args.recommendations = 4, 3, 2, 4
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [run(db, args.clients, args.seconds, args.workers, args.recommendations) for db in databases]
    output = table(results, args.workers)
    print(output)
    for result in results:
        for sample in result["error_samples"]:
            print(f"error ({result['db']}): {sample}", file=sys.stderr)
    if not args.smoke:
        results_file = REPO / "bench" / "RESULTS.md"
        previous = results_file.read_text(encoding="utf-8") if results_file.exists() else "# Benchmark results\n\nNewest first.\n"
        head, _, rest = previous.partition("\n## ")
        entry = f"## Load test — {machine()}\n\n`python bench/load.py --clients {args.clients} --seconds {args.seconds:g}`\n\n{output}\n"
        results_file.write_text(head.rstrip() + "\n\n" + entry + ("\n## " + rest if rest else ""), encoding="utf-8")
    return 1 if any(r["errors"] for r in results) or any(not r["audit"].startswith("ok:") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
