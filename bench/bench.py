#!/usr/bin/env python3
"""Benchmarks: each scenario against gunicorn on SQLite and PostgreSQL, one table, with the targets.

    python bench/bench.py                 # everything, both databases (make bench)
    python bench/bench.py --peer          # and OpenSlides 3.3's set_state, same machine, same run (make bench-peer)
    python bench/bench.py --db sqlite --smoke    # tiny sizes, nothing recorded (the test suite runs this)
    python bench/bench.py --only evaluation      # the evaluation figures and the open-data exports, 100 vs 100,000 items

Records the table with date, machine, database versions and commit at the top of bench/RESULTS.md,
and as JSON in bench/results/. Latencies are wall-clock from a client on the same machine.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load import BIN, POSTGRES, REPO, free_port, machine, prepare_postgres, progress  # noqa: E402
import plot  # noqa: E402

FULL = {"comments": [10, 100, 1000], "recommendations": [100, 10_000, 100_000], "events": [10_000, 100_000, 1_000_000]}
SMOKE = {"comments": [10, 100], "recommendations": [100, 500], "events": [1000, 5000]}
#: The evaluation figures and the open-data exports: items per process (the first is the baseline).
EVALUATION = {"full": [100, 100_000], "smoke": [100, 2000]}
EXPORTS = {"open data JSON": "/processes/{slug}/open-data.json", "recommendations CSV": "/processes/{slug}/recommendations.csv"}
PEER = REPO.parent / "shared" / "peers" / "openslides"


class Server:
    def __init__(self, env: dict, workers: int):
        self.port = free_port()
        self.process = subprocess.Popen([str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                                         "--log-level", "warning", "--pythonpath", str(REPO / "bench"), "instruments:create_app()"],
                                        env=env, cwd=REPO)
        for _ in range(200):
            try:
                self.call("GET", "/api/v1/processes")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not start")

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.getheader("X-Queries"), data

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


ROUNDS = 10


def interleaved(repeat: int, actions: dict) -> dict:
    """Each action ``repeat`` times in a row-by-row turn: ROUNDS rounds in which every action runs its
    share. A machine that slows down or speeds up during the run (other guests on the host, say) then
    weighs on every action alike, and the ratios between them, which the targets judge, stay true.
    Latencies in milliseconds, and each action's query count."""
    latencies: dict = {name: [] for name in actions}
    queries: dict = {}
    for _round in range(ROUNDS):
        for name, action in actions.items():
            progress(f"bench: {name}, round {_round + 1} of {ROUNDS}")
            for n in range(max(1, repeat // ROUNDS)):
                started = time.perf_counter()
                status, count, _ = action(n)
                latencies[name].append((time.perf_counter() - started) * 1000)
                assert status < 400, (status, name)
                queries[name] = count
    return {name: summary(latencies[name], queries[name]) for name in actions}


def summary(latencies: list[float], queries=None, seconds: float | None = None) -> dict:
    ordered = sorted(latencies)
    result = {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(len(ordered) * 0.95) - 1], 2),
              "n": len(ordered), "queries": int(queries) if queries is not None else None}
    if seconds:
        result["throughput"] = round(len(ordered) / seconds, 1)
    return result


def concurrently(clients: int, repeat: int, actions: dict) -> dict:
    """Each action from ``clients`` threads at once, ``repeat`` requests per thread, in turns as above;
    throughput is an action's requests over the time its turns took."""
    latencies: dict = {name: [] for name in actions}
    seconds = dict.fromkeys(actions, 0.0)
    lock = threading.Lock()
    for _round in range(ROUNDS):
        for name, action in actions.items():
            progress(f"bench: {name}, {clients} clients, round {_round + 1} of {ROUNDS}")

            def run(client: int, name=name, action=action):
                for n in range(max(1, repeat // ROUNDS)):
                    started = time.perf_counter()
                    status, _, _ = action(client, n)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert status < 400, (status, name)
                    with lock:
                        latencies[name].append(elapsed)
            threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds[name] += time.perf_counter() - started
    return {name: summary(latencies[name], seconds=seconds[name]) for name in actions}


def transition_action(server: Server, seed: dict, rec: dict):
    """Moves one recommendation back and forth: forward (moderation), send back (steering round)."""
    state = {"version": rec["version"], "review": False}

    def act(client: int, _n: int = 0):
        tokens = seed["tokens"]
        if state["review"]:
            body, token = {"trigger": "send_back", "version": state["version"], "note": "Noch einmal."}, tokens["administrator"][client]
        else:
            body, token = {"trigger": "forward", "version": state["version"]}, tokens["moderator"][client]
        status, queries, data = server.call("POST", f"/api/v1/recommendations/{rec['id']}/transitions", token, body)
        answer = json.loads(data)
        state["version"], state["review"] = answer["version"], answer["state"] == "steering_review"
        return status, queries, data
    return act


def database_version(env: dict) -> str:
    code = "from app import create_app\nfrom app.extensions import db\nfrom sqlalchemy import text\napp=create_app()\n" \
           "with app.app_context():\n  d=db.engine.dialect.name\n" \
           "  print(d, db.session.execute(text('select sqlite_version()' if d=='sqlite' else 'show server_version')).scalar())"
    return subprocess.run([str(BIN / "python"), "-c", code], env=env, cwd=REPO, capture_output=True, text=True).stdout.strip()


def prepared(db: str, instance: str, name: str) -> dict:
    url = f"sqlite:///{instance}/{name}.sqlite3" if db == "sqlite" else POSTGRES.rsplit("/", 1)[0] + f"/ratschlag_{name}"
    if db == "postgresql":
        prepare_postgres(url)
    # Bytecode cached as an installed package has it: with PYTHONDONTWRITEBYTECODE (set on some machines)
    # every command would compile the application's sources first, a second that no server pays.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "RATSCHLAG_DATABASE_URL": url, "RATSCHLAG_INSTANCE_PATH": instance, "RATSCHLAG_SECRET_KEY": "bench",
           "RATSCHLAG_WORKFLOWS_DIR": str(REPO / "app" / "workflows"), "LANG": "C.UTF-8"}
    subprocess.run([str(BIN / "ratschlag"), "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
    return env


def verify_run(env: dict) -> tuple[float, int]:
    """``ratschlag audit verify`` in its own process: seconds and peak memory (KiB)."""
    wrapper = ("import resource, subprocess, sys, time\nstarted = time.perf_counter()\n"
               f"done = subprocess.run([{str(BIN / 'ratschlag')!r}, 'audit', 'verify'], capture_output=True, text=True)\n"
               "assert done.returncode == 0 and done.stdout.startswith('ok:'), done.stdout + done.stderr\n"
               "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([str(BIN / "python"), "-c", wrapper], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    seconds, peak = out.stdout.split()
    return float(seconds), int(peak)


def run_database(db: str, sizes: dict, repeat: int, only_transition: bool = False) -> dict:
    results: dict = {"database": None, "scenarios": {}}
    with tempfile.TemporaryDirectory() as instance:
        Path(instance, "config.py").write_text("RATELIMIT_ENABLED = False\n")
        env = prepared(db, instance, "bench")
        results["database"] = database_version(env)
        out = subprocess.run([str(BIN / "python"), str(REPO / "bench" / "seed.py"), "main", json.dumps(sizes)],
                             env=env, cwd=REPO, capture_output=True, text=True, check=True)
        seed = json.loads(out.stdout.strip().splitlines()[-1])
        server = Server(env, workers=4)
        s = results["scenarios"]
        try:
            first = transition_action(server, seed, seed["transitions"][0])
            s.update(interleaved(repeat, {"transition, 1 client": lambda n: first(0),
                                          "floor, 1 client": lambda n: server.call("POST", "/bench/floor?id=1")}))
            movers = [transition_action(server, seed, r) for r in seed["transitions"][1:9]]
            s.update(concurrently(8, repeat // 2, {
                "transition, 8 clients": lambda c, n: movers[c](c),
                "floor, 8 clients": lambda c, n: server.call("POST", f"/bench/floor?id={c + 1}")}))
            if only_transition:
                return results
            threads = sorted(seed["threads"].items(), key=lambda kv: int(kv[0]))
            s.update(interleaved(repeat, {f"recommendation page, {count} comments": lambda n, t=thread: server.call(
                "GET", f"/processes/bench/recommendations/{t['number']}") for count, thread in threads}))
            s.update(interleaved(repeat, {f"API comment list, {count} comments": lambda n, t=thread: server.call(
                "GET", f"/api/v1/recommendations/{t['id']}/comments") for count, thread in threads}))
            lists = sorted(seed["lists"].items(), key=lambda kv: int(kv[0]))
            for surface, path in (("process page", "/processes/{slug}?{query}"),
                                  ("API list", "/api/v1/processes/{slug}/recommendations?{query}")):
                for label in ("first page", "filtered", "late page"):
                    def query(listed: dict, label=label) -> str:
                        return {"first page": "", "filtered": "state=adopted",
                                "late page": f"page={max(1, -(-listed['visible'] // 20))}"}[label]
                    s.update(interleaved(repeat, {f"{surface}, {count} recs, {label}": lambda n, l=listed, q=query(listed), p=path:
                                                  server.call("GET", p.format(slug=l["slug"], query=q)) for count, listed in lists}))
        finally:
            server.stop()
        for count in sizes["events"]:
            progress(f"bench: {db}, audit verify at {count} events")
            audit_env = prepared(db, instance, f"audit_{count}")
            subprocess.run([str(BIN / "python"), str(REPO / "bench" / "seed.py"), "events", str(count)],
                           env=audit_env, cwd=REPO, check=True, capture_output=True)
            runs = [verify_run(audit_env) for _ in range(3)]  # the median of three, against the machine's moods
            seconds, peak = statistics.median(r[0] for r in runs), max(r[1] for r in runs)
            s[f"audit verify, {count} events"] = {"seconds": round(seconds, 2), "events_per_second": int(count / seconds),
                                                  "peak_kib": peak}
    return results


STEERING = [{"recommendations": 100, "waiting": 100, "statements_each": 5, "agenda": 20},
            {"recommendations": 10_000, "waiting": 100, "statements_each": 5, "agenda": 20, "minutes": 100}]
STEERING_SMOKE = [{"recommendations": 50, "waiting": 30, "statements_each": 2, "agenda": 5},
                  {"recommendations": 200, "waiting": 30, "statements_each": 2, "agenda": 5, "minutes": 5}]


def signed_in(server: Server, email: str, password: str):
    """A GET as a signed-in person (the pages take a session cookie, not a token)."""
    import re
    from urllib.parse import urlencode

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    connection.request("POST", "/login", body=urlencode({"csrf_token": token, "email": email, "password": password}),
                       headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = connection.getresponse()
    response.read()
    cookie = (response.getheader("Set-Cookie") or cookie).split(";")[0]
    connection.close()

    def get(path: str):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", path, headers={"Cookie": cookie})
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        assert answer.status == 200, (path, answer.status)
        return answer.status, answer.getheader("X-Queries"), data
    return get


def run_steering(db: str, repeat: int, smoke: bool) -> dict:
    """The steering queue (``/steering``) and an open session's agenda page at two sizes, the same
    100 recommendations waiting in both: what grows is everything else (recommendations decided
    before, 5 statements each). Both sizes are served at once and take turns, so the machine's moods
    weigh on both alike. Then the minutes PDF of a closed session of 100 decided items."""
    results: dict = {"database": None, "scenarios": {}}
    s = results["scenarios"]
    servers, actions, pdfs = [], {}, []
    with tempfile.TemporaryDirectory() as instance:
        Path(instance, "config.py").write_text("RATELIMIT_ENABLED = False\n")
        try:
            for size in (STEERING_SMOKE if smoke else STEERING):
                count = size["recommendations"]
                statements = count * size["statements_each"]
                env = prepared(db, instance, f"steering_{count}")
                results["database"] = database_version(env)
                out = subprocess.run([str(BIN / "python"), str(REPO / "bench" / "seed.py"), "steering", json.dumps(size)],
                                     env=env, cwd=REPO, capture_output=True, text=True, check=True)
                seed = json.loads(out.stdout.strip().splitlines()[-1])
                server = Server(env, workers=2)
                servers.append(server)
                get = signed_in(server, seed["email"], seed["password"])
                actions[f"steering queue, {count} recs, {statements} statements"] = lambda n, get=get: get("/steering")
                actions[f"agenda page, {count} recs, {statements} statements"] = (
                    lambda n, get=get, sid=seed["agenda"]: get(f"/sessions/{sid}"))
                if seed.get("minutes"):
                    pdfs.append((size["minutes"], get, seed["minutes"]))
            s.update(interleaved(repeat, actions))
            for items, get, session_id in pdfs:
                runs = []
                for _ in range(1 if smoke else 5):
                    started = time.perf_counter()
                    _status, _q, data = get(f"/sessions/{session_id}/minutes.pdf")
                    runs.append((time.perf_counter() - started) * 1000)
                    assert data.startswith(b"%PDF")
                s[f"minutes PDF, {items} items"] = summary(runs)
        finally:
            for server in servers:
                server.stop()
    return results


def export_run(env: dict, path: str) -> tuple[float, int, int]:
    """One open-data export streamed through the application in its own process, read chunk by chunk
    as a client reads it: seconds, bytes, and the process's peak memory (KiB)."""
    code = ("import resource, time\nfrom app import create_app\napp = create_app()\nclient = app.test_client()\n"
            f"started = time.perf_counter()\nresponse = client.get({path!r}, buffered=False)\nsize = 0\n"
            "for chunk in response.response:\n    size += len(chunk)\nresponse.close()\n"
            "assert response.status_code == 200, response.status_code\n"
            "print(time.perf_counter() - started, size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([str(BIN / "python"), "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    seconds, size, peak = out.stdout.split()[-3:]
    return float(seconds), int(size), int(peak)


def run_evaluation(db: str, sizes: list[int], repeat: int) -> dict:
    """The evaluation page and CSV per process, at each size, taking turns; then each open-data export
    at each size in its own process, for its peak memory (the median time of three runs)."""
    results: dict = {"database": None, "scenarios": {}}
    with tempfile.TemporaryDirectory() as instance:
        Path(instance, "config.py").write_text("RATELIMIT_ENABLED = False\n")
        env = prepared(db, instance, "evaluation")
        results["database"] = database_version(env)
        out = subprocess.run([str(BIN / "python"), str(REPO / "bench" / "seed.py"), "evaluation", json.dumps(sizes)],
                             env=env, cwd=REPO, capture_output=True, text=True, check=True)
        slugs = {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}
        s = results["scenarios"]
        server = Server(env, workers=4)
        try:
            for label, path in (("evaluation page", "/processes/{slug}/evaluation"),
                                ("evaluation CSV", "/processes/{slug}/evaluation.csv")):
                s.update(interleaved(repeat, {f"{label}, {count} items": lambda n, p=path.format(slug=slug): server.call("GET", p)
                                              for count, slug in sorted(slugs.items())}))
            s.update(interleaved(repeat, {f"evaluation page, installation-wide, {sum(slugs)} items":
                                          lambda n: server.call("GET", "/evaluation")}))
        finally:
            server.stop()
        for label, path in EXPORTS.items():
            for count, slug in sorted(slugs.items()):
                runs = [export_run(env, path.format(slug=slug)) for _ in range(3)]
                s[f"{label}, {count} items"] = {"seconds": round(statistics.median(r[0] for r in runs), 2),
                                                "bytes": runs[0][1], "peak_kib": max(r[2] for r in runs)}
    return results


def evaluation_targets(results: dict) -> list[str]:
    lines = []

    def check(name: str, ok: bool, detail: str):
        lines.append(f"- {'met' if ok else '**missed**'}: {name} ({detail})")
    for db, r in results.items():
        s = r["scenarios"]
        sizes = sorted({int(k.split(", ")[1].split()[0]) for k in s if k.startswith("evaluation page, ") and "installation" not in k})
        small, large = sizes[0], sizes[-1]
        for kind in ("evaluation page", "evaluation CSV"):
            a, b = s[f"{kind}, {small} items"], s[f"{kind}, {large} items"]
            check(f"{db}: {kind} at {large:,} items at most 1.5 × at {small:,}", b["p50"] <= 1.5 * a["p50"],
                  f"{b['p50']} vs {a['p50']} ms: {b['p50'] / a['p50']:.2f}×, {b['queries']} vs {a['queries']} queries")
        for kind in EXPORTS:
            a, b = s[f"{kind}, {small} items"], s[f"{kind}, {large} items"]
            check(f"{db}: {kind} at {large:,} items streams in flat memory (peak at most 1.2 × at {small:,})",
                  b["peak_kib"] <= 1.2 * a["peak_kib"],
                  f"{b['peak_kib'] / 1024:.0f} vs {a['peak_kib'] / 1024:.0f} MiB, {b['bytes'] / 1e6:.1f} MB in {b['seconds']} s")
    return lines


def run_peer(repeat: int) -> dict:
    """OpenSlides 3.3's set_state, driven by the peer's own script, on the same machine."""
    if not Path("/tmp/os-venv/bin/openslides").exists():
        subprocess.run([str(PEER / "setup.sh")], check=True, capture_output=True)
    port = free_port()
    subprocess.run([str(PEER / "start.sh"), str(port)], check=True, capture_output=True)
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run([str(BIN / "python"), str(PEER / "drive.py"), "--base", f"http://127.0.0.1:{port}", "--n", str(repeat),
                            "--json", out.name], check=True, capture_output=True)
            return json.loads(Path(out.name).read_text())
    finally:
        subprocess.run([str(PEER / "stop.sh")], capture_output=True)


def targets(results: dict, peer: dict | None) -> list[str]:
    lines = []

    def check(name: str, ok: bool, detail: str):
        lines.append(f"- {'met' if ok else '**missed**'}: {name} ({detail})")
    for db, r in results.items():
        s = r["scenarios"]
        t1, f1 = s["transition, 1 client"]["p50"], s["floor, 1 client"]["p50"]
        check(f"{db}: transition median at most 3 × the floor's", t1 <= 3 * f1, f"{t1} ms vs {f1} ms: {t1 / f1:.2f}×")
        t8, f8 = s["transition, 8 clients"]["throughput"], s["floor, 8 clients"]["throughput"]
        check(f"{db}: 8-client transition throughput at least half the floor's", t8 >= f8 / 2, f"{t8} vs {f8} req/s")
        counts = sorted(int(k.split(", ")[1].split()[0]) for k in s if k.startswith("recommendation page"))
        if not counts:  # --only transition
            continue
        for kind in ("recommendation page", "API comment list"):
            small, large = s[f"{kind}, {counts[0]} comments"], s[f"{kind}, {counts[-1]} comments"]
            check(f"{db}: {kind} at {counts[-1]} comments at most 10 × at {counts[0]}, same query count",
                  large["p50"] <= 10 * small["p50"] and large["queries"] == small["queries"],
                  f"{large['p50']} vs {small['p50']} ms, {large['queries']} vs {small['queries']} queries")
        sizes = sorted({int(k.split(", ")[1].split()[0]) for k in s if k.startswith("API list")})
        for kind in ("process page", "API list"):
            for label in ("first page", "filtered", "late page"):
                small, large = s[f"{kind}, {sizes[0]} recs, {label}"], s[f"{kind}, {sizes[-1]} recs, {label}"]
                check(f"{db}: {kind} {label} at {sizes[-1]} recs at most 1.5 × at {sizes[0]}", large["p50"] <= 1.5 * small["p50"],
                      f"{large['p50']} vs {small['p50']} ms: {large['p50'] / small['p50']:.2f}×")
        events = sorted(int(k.split(", ")[1].split()[0]) for k in s if k.startswith("audit verify"))
        biggest, middle = s[f"audit verify, {events[-1]} events"], s[f"audit verify, {events[-2]} events"]
        check(f"{db}: audit verify at least 100,000 events/s", biggest["events_per_second"] >= 100_000,
              f"{biggest['events_per_second']:,} events/s at {events[-1]:,}")
        check(f"{db}: peak memory at {events[-1]:,} events at most 1.2 × at {events[-2]:,}", biggest["peak_kib"] <= 1.2 * middle["peak_kib"],
              f"{biggest['peak_kib'] / 1024:.0f} vs {middle['peak_kib'] / 1024:.0f} MiB")
    if peer and "sqlite" in results:
        ours, theirs = results["sqlite"]["scenarios"]["transition, 1 client"]["p50"], peer["set_state_median_ms"]
        check("transition median at most 1/5 of OpenSlides' set_state median (both SQLite, 1 client)", ours <= theirs / 5,
              f"{ours} vs {theirs} ms: {theirs / ours:.1f}× faster")
    return lines


def table(results: dict, peer: dict | None) -> str:
    rows = ["| scenario | database | p50 ms | p95 ms | req/s | queries | notes |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for db, r in results.items():
        for name, v in r["scenarios"].items():
            if "bytes" in v:
                rows.append(f"| {name} | {db} | | | | | {v['seconds']} s, {v['bytes'] / 1e6:.2f} MB, peak {v['peak_kib'] / 1024:.0f} MiB |")
            elif "events_per_second" in v:
                rows.append(f"| {name} | {db} | | | | | {v['seconds']} s, {v['events_per_second']:,} events/s, "
                            f"peak {v['peak_kib'] / 1024:.0f} MiB |")
            else:
                rows.append(f"| {name} | {db} | {v['p50']} | {v['p95']} | {v.get('throughput', '')} | "
                            f"{'' if v['queries'] is None else v['queries']} | |")
    if peer:
        rows.append(f"| OpenSlides 3.3 set_state, 1 client | sqlite | {peer['set_state_median_ms']} | "
                    f"{peer.get('set_state_p95_ms', '')} | | | the peer's drive.py, same machine, same run |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--peer", action="store_true", help="also run OpenSlides 3.3 (../shared/peers/openslides)")
    parser.add_argument("--repeat", type=int, default=100, help="requests per scenario")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, nothing recorded")
    parser.add_argument("--only", choices=["all", "transition", "steering", "evaluation"], default="all",
                        help="transition: only the transition and the floor (a few minutes), recorded as such; "
                             "steering: only the steering queue, the agenda and the minutes PDF (issue 14); "
                             "evaluation: the evaluation figures at 100 and 100,000 items and the open-data exports' memory")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    repeat = 10 if args.smoke else args.repeat
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    load_before = os.getloadavg()[0]
    if args.only == "steering":
        return record_steering({db: run_steering(db, repeat, args.smoke) for db in databases}, args.smoke, load_before, repeat)
    if args.only == "evaluation":
        evaluation_sizes = EVALUATION["smoke" if args.smoke else "full"]
        results = {db: run_evaluation(db, evaluation_sizes, repeat) for db in databases}
        peer = None
        verdicts = evaluation_targets(results)
        picture = None
    else:
        results = {db: run_database(db, sizes, repeat, args.only == "transition") for db in databases}
        peer = run_peer(200) if args.peer else None
        verdicts = targets(results, peer)
        picture = plot.svg(results)
    output = table(results, peer)
    progress("")
    print(output)
    print("\n".join(verdicts))
    if not args.smoke:
        stamp = datetime.now(timezone.utc)
        versions = "; ".join(f"{db}: {r['database']}" for db, r in results.items())
        results_dir = REPO / "bench" / "results"
        results_dir.mkdir(exist_ok=True)
        name = f"{stamp:%Y%m%dT%H%M%SZ}"
        (results_dir / f"{name}.json").write_text(json.dumps(
            {"machine": machine(), "databases": versions, "results": results, "peer": peer, "targets": verdicts}, indent=1))
        if picture is not None:
            (results_dir / f"{name}.svg").write_text(picture, encoding="utf-8")
        results_file = REPO / "bench" / "RESULTS.md"
        previous = results_file.read_text(encoding="utf-8") if results_file.exists() else "# Benchmark results\n\nNewest first.\n"
        head, _, rest = previous.partition("\n## ")
        kind = {"all": "Benchmarks", "transition": "Benchmarks (transition and floor only)",
                "evaluation": "Evaluation figures and open-data exports (issue 17)"}[args.only]
        how = ("audit verify the median of three runs" if args.only != "evaluation" else
               "each export read chunk by chunk through the application in its own process, three times: the median "
               "time, the highest peak memory (the whole process, Python and the application included)")
        chart = "" if picture is None else f"![p50 latency against the number of recommendations and comments](results/{name}.svg)\n\n"
        entry = (f"## {kind} — {machine()}\n\n{versions}; gunicorn with 4 sync workers; {repeat} requests per "
                 f"scenario from one client thread (8 threads where it says so) on the same machine, the scenarios "
                 f"that a target compares taking turns in {ROUNDS} rounds; {how}; "
                 f"load average {load_before:.1f} when the run began, {os.getloadavg()[0]:.1f} when it ended."
                 f"\n\n{output}\n\n{chart}"
                 f"Targets ({'issue 17' if args.only == 'evaluation' else 'issue 6'}):\n\n" + "\n".join(verdicts) + "\n")
        results_file.write_text(head.rstrip() + "\n\n" + entry + ("\n## " + rest if rest else ""), encoding="utf-8")
    return 0


def steering_targets(results: dict) -> list[str]:
    lines = []
    for db, r in results.items():
        s = r["scenarios"]
        for surface in ("steering queue", "agenda page"):
            found = sorted((int(name.split(", ")[1].split()[0]), v) for name, v in s.items() if name.startswith(surface))
            (small, low), (big, high) = found[0], found[-1]
            ratio = high["p50"] / low["p50"]
            lines.append(f"- {'met' if ratio <= 1.5 else '**missed**'}: {db}: {surface} at {big:,} recommendations at most "
                         f"1.5 × at {small:,} ({high['p50']} ms vs {low['p50']} ms: {ratio:.2f}×)")
        for name, v in s.items():
            if name.startswith("minutes PDF"):
                lines.append(f"- {'met' if v['p50'] < 2000 else '**missed**'}: {db}: {name} under 2 s "
                             f"(median {v['p50'] / 1000:.2f} s of {v['n']})")
    return lines


def record_steering(results: dict, smoke: bool, load_before: float, repeat: int) -> int:
    output, verdicts = table(results, None), steering_targets(results)
    print(output)
    print("\n".join(verdicts))
    if smoke:
        return 0
    versions = "; ".join(f"{db}: {r['database']}" for db, r in results.items())
    results_file = REPO / "bench" / "RESULTS.md"
    previous = results_file.read_text(encoding="utf-8")
    head, _, rest = previous.partition("\n## ")
    entry = (f"## Benchmarks (steering round only) — {machine()}\n\n{versions}; `bench/bench.py --only steering`: gunicorn "
             f"with 2 sync workers, one signed-in administrator's client on the same machine, the two sizes' pages taking "
             f"turns in {ROUNDS} rounds ({repeat} requests each); the same 100 recommendations wait in the steering round at both sizes (20 of them "
             f"on the open session's agenda), the rest were decided before and each has 5 statements; the minutes PDF "
             f"five times. Load average {load_before:.1f} when the run began, {os.getloadavg()[0]:.1f} when it ended."
             f"\n\n{output}\n\nTargets (issue 14):\n\n" + "\n".join(verdicts) + "\n")
    results_file.write_text(head.rstrip() + "\n\n" + entry + ("\n## " + rest if rest else ""), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
