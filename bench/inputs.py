#!/usr/bin/env python3
"""Pathological inputs at the field limits against a typical one: render, store and page read (issue 12).

    python bench/inputs.py            # every input of tests/security/pathological.py (make bench-inputs)
    python bench/inputs.py --smoke    # three inputs at small sizes, nothing recorded

For each input, as a comment (COMMENT_MAX characters) and as a recommendation body (BODY_MAX, app/services/validation.py):
``render`` is app.text.render alone; ``store`` is the API write (POST a comment, POST a
recommendation) including rendering, validation, the audit event and the commit; ``read`` is
the recommendation page that shows it (for a body: the versions diff against a typical
revision too). Server time is the CPU time of the request, in process (Flask's test client,
SQLite in a temporary directory), the minimum of ``--repeat`` runs: a shared machine inflates
wall time by what else runs, not the CPU time a request needs. Targets: no input
costs more than 20x the typical input of the same size, nor more than 250 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

from load import machine  # noqa: E402

from app.services.validation import BODY_MAX, COMMENT_MAX  # noqa: E402

LIMITS = {"comment": COMMENT_MAX, "body": BODY_MAX}
RATIO_TARGET, MS_TARGET = 20, 250


def setup(directory: str):
    from flask_migrate import upgrade
    from app import create_app, services
    from app.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory}/inputs.sqlite3", "SECRET_KEY": "bench",
                      "INSTANCE_PATH": directory, "WORKFLOWS_DIR": str(REPO / "app" / "workflows"), "RATELIMIT_ENABLED": False,
                      "SERVER_NAME": "bench.test", "WTF_CSRF_ENABLED": False, "BABEL_DEFAULT_LOCALE": "en", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    context = app.app_context()
    context.push()
    upgrade(directory=str(REPO / "app" / "migrations"))
    process = services.create_process("bench", "Bench", "citizen-recommendation")
    author, _ = services.create_user("author@example.org", "Author", password="a-long-bench-password")
    services.grant_role(process, author, "member")
    token = services.create_token(author, "bench")
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "author@example.org", "password": "a-long-bench-password"})
    return app, client, token, db


def timed(call) -> tuple[float, object]:
    """CPU time of this thread, in ms. Flask's test client runs the request in this thread, so this is the
    server's own time, and what other processes on a shared machine do does not inflate it (wall time does)."""
    start = time.thread_time()
    result = call()
    return (time.thread_time() - start) * 1000, result


def measure(client, token: str, kind: str, source: str, repeat: int) -> dict[str, float]:
    from app import text
    headers = {"Authorization": f"Bearer {token}"}
    best = {"render": float("inf"), "store": float("inf"), "read": float("inf")}
    for _ in range(repeat):
        best["render"] = min(best["render"], timed(lambda: text.render(source))[0])
        if kind == "comment":
            rec = client.post("/api/v1/processes/bench/recommendations", headers=headers,
                              json={"title": "Host", "body": "A host."}).json
            ms, response = timed(lambda: client.post(f"/api/v1/recommendations/{rec['id']}/comments", headers=headers,
                                                     json={"body": source}))
            reads = [f"/processes/bench/recommendations/{rec['number']}"]
        else:
            # UTF-8 as sent, not \u-escaped: 100,000 astral characters escaped are 1.2 MB, past the 1 MiB request limit
            payload = json.dumps({"title": "Input", "body": source}, ensure_ascii=False).encode()
            ms, response = timed(lambda: client.post("/api/v1/processes/bench/recommendations", headers=headers,
                                                     data=payload, content_type="application/json"))
            rec = response.json
            client.patch(f"/api/v1/recommendations/{rec['id']}", headers=headers,
                         json={"body": typical_of(len(source)), "version": rec["version"]})
            reads = [f"/processes/bench/recommendations/{rec['number']}",
                     f"/processes/bench/recommendations/{rec['number']}/versions?a=1&b=2"]
        assert response.status_code == 201, (response.status_code, response.json)
        best["store"] = min(best["store"], ms)
        read_ms = 0.0
        for url in reads:
            ms, page = timed(lambda: client.get(url))
            assert page.status_code == 200, (url, page.status_code)
            read_ms = max(read_ms, ms)
        best["read"] = min(best["read"], read_ms)
    return best


def typical_of(size: int) -> str:
    from tests.security.pathological import typical
    return typical(size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="three inputs, small sizes, nothing recorded")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from tests.security.pathological import corpus
    limits = {"comment": 1_000, "body": 2_000} if args.smoke else LIMITS
    repeat = 1 if args.smoke else args.repeat
    with tempfile.TemporaryDirectory() as directory:
        _app, client, token, _db = setup(directory)
        measure(client, token, "comment", typical_of(1_000), 1)  # warm up: templates compiled, caches filled
        rows, failures = [], []
        for kind, size in limits.items():
            inputs = corpus(size)[:3] if args.smoke else corpus(size)
            base = measure(client, token, kind, typical_of(size), repeat)
            rows.append((kind, size, "typical document", base, base))
            for name, source in inputs:
                figures = measure(client, token, kind, source, repeat)
                rows.append((kind, size, name, figures, base))
                print(f"{kind} {name}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in figures.items()), file=sys.stderr)
    lines = ["| field | input | render ms | store ms | page read ms | store × typical | read × typical | within target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind, size, name, f, base in rows:
        store_ratio, read_ratio = f["store"] / base["store"], f["read"] / base["read"]
        worst = max(f["store"], f["read"])
        ok = max(store_ratio, read_ratio) <= RATIO_TARGET and worst <= MS_TARGET
        ratio_ok = max(store_ratio, read_ratio) <= RATIO_TARGET
        if not ok:
            failures.append((kind, name, worst, max(store_ratio, read_ratio)))
        verdict = "yes" if ok else ("ratio yes, ms no" if ratio_ok else "no")
        lines.append(f"| {kind} ({size:,}) | {name} | {f['render']:.1f} | {f['store']:.1f} | {f['read']:.1f} | "
                     f"{store_ratio:.2f} | {read_ratio:.2f} | {verdict} |")
    table = "\n".join(lines)
    ratio_misses = [f for f in failures if f[3] > RATIO_TARGET]
    ms_misses = [f for f in failures if f[2] > MS_TARGET]
    summary = (f"{len(rows)} rows; over {RATIO_TARGET}× the typical input of the same field: {len(ratio_misses)}"
               + "".join(f"\n- {k} '{n}': {r:.1f}×" for k, n, _ms, r in ratio_misses)
               + f"\nover {MS_TARGET} ms: {len(ms_misses)}"
               + "".join(f"\n- {k} '{n}': {ms:.0f} ms" for k, n, ms, _r in ms_misses))
    print(table)
    print()
    print(summary)
    if not args.smoke:
        results_file = REPO / "bench" / "RESULTS.md"
        previous = results_file.read_text(encoding="utf-8")
        head, _, rest = previous.partition("\n## ")
        uname = " ".join(os.uname())
        entry = (f"## Pathological inputs (issue 12) — {machine()}\n\n`uname -a`: {uname}; `os.cpu_count()`: "
                 f"{os.cpu_count()}. `python bench/inputs.py` (make bench-inputs): each input of "
                 "tests/security/pathological.py at the field's limit, in process on SQLite, the minimum of "
                 f"{repeat} runs of the CPU time a request takes (a shared machine inflates wall time, not this; load "
                 f"average {os.getloadavg()[0]:.1f}). Store = the API write including rendering; "
                 "page read = the recommendation page (for a body also the versions diff against a typical "
                 f"revision; the slower counts). Targets: ≤ {RATIO_TARGET}× the typical input of the same field "
                 f"and ≤ {MS_TARGET} ms.\n\n{table}\n\n{summary}\n")
        results_file.write_text(head.rstrip() + "\n\n" + entry + ("\n## " + rest if rest else ""), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
