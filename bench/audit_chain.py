#!/usr/bin/env python3
"""``ratschlag audit verify`` and ``audit verify --deep`` over long chains: speed and memory.

    python bench/audit_chain.py                      # 100,000 and 1,000,000 events, both databases
    python bench/audit_chain.py --db sqlite --smoke  # tiny sizes, nothing recorded (the test suite runs this)

Each chain is one the tables agree with (``bench/seed.py explained``): a recommendation and its
comments, each comment beside its ``comment.created`` event, so the deep check compares every row.
Each command runs in its own process, three times; the median time and the largest peak memory
count. Records the table with date, machine, database versions and commit at the top of
bench/RESULTS.md, and as JSON in bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench import database_version, prepared  # noqa: E402
from load import BIN, REPO, machine  # noqa: E402

FULL = [100_000, 1_000_000]
SMOKE = [1000, 5000]
TARGETS = {"verify": 150_000, "verify --deep": 50_000}  # events per second at the largest size (issue 16)


def timed(env: dict, *args: str) -> tuple[float, int]:
    """``ratschlag audit ARGS`` in its own process: seconds and peak memory (KiB)."""
    wrapper = ("import resource, subprocess, sys, time\nstarted = time.perf_counter()\n"
               f"done = subprocess.run([{str(BIN / 'ratschlag')!r}, 'audit', *{list(args)!r}], capture_output=True, text=True)\n"
               "assert done.returncode == 0 and done.stdout.startswith('ok:'), done.stdout + done.stderr\n"
               "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([str(BIN / "python"), "-c", wrapper], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    seconds, peak = out.stdout.split()
    return float(seconds), int(peak)


def run_database(db: str, sizes: list[int], runs: int) -> dict:
    results: dict = {"database": None, "scenarios": {}}
    with tempfile.TemporaryDirectory() as instance:
        for count in sizes:
            env = prepared(db, instance, f"audit_chain_{count}")
            results["database"] = results["database"] or database_version(env)
            subprocess.run([str(BIN / "python"), str(REPO / "bench" / "seed.py"), "explained", str(count)],
                           env=env, cwd=REPO, check=True, capture_output=True)
            for name, args in (("verify", ("verify",)), ("verify --deep", ("verify", "--deep"))):
                measured = [timed(env, *args) for _ in range(runs)]
                seconds, peak = statistics.median(m[0] for m in measured), max(m[1] for m in measured)
                results["scenarios"][f"audit {name}, {count} events"] = {
                    "seconds": round(seconds, 2), "events_per_second": int(count / seconds), "peak_kib": peak}
    return results


def targets(results: dict, sizes: list[int]) -> list[str]:
    lines = []
    for db, r in results.items():
        s = r["scenarios"]
        for name, target in TARGETS.items():
            big, small = s[f"audit {name}, {sizes[-1]} events"], s[f"audit {name}, {sizes[0]} events"]
            lines.append(f"- {'met' if big['events_per_second'] >= target else '**missed**'}: {db}: audit {name} at least "
                         f"{target:,} events/s ({big['events_per_second']:,} events/s at {sizes[-1]:,})")
            flat = big["peak_kib"] <= 1.2 * small["peak_kib"]
            lines.append(f"- {'met' if flat else '**missed**'}: {db}: audit {name} peak memory at {sizes[-1]:,} events "
                         f"at most 1.2 × at {sizes[0]:,} ({big['peak_kib'] / 1024:.0f} vs {small['peak_kib'] / 1024:.0f} MiB)")
    return lines


def table(results: dict) -> str:
    rows = ["| scenario | database | seconds | events/s | peak MiB |", "| --- | --- | --- | --- | --- |"]
    for db, r in results.items():
        for name, v in r["scenarios"].items():
            rows.append(f"| {name} | {db} | {v['seconds']} | {v['events_per_second']:,} | {v['peak_kib'] / 1024:.0f} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run each, nothing recorded")
    args = parser.parse_args()
    sizes, runs = (SMOKE, 1) if args.smoke else (FULL, 3)
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    load_before = os.getloadavg()[0]
    results = {db: run_database(db, sizes, runs) for db in databases}
    output, verdicts = table(results), targets(results, sizes)
    print(output)
    print("\n".join(verdicts))
    if not args.smoke:
        stamp = datetime.now(timezone.utc)
        versions = "; ".join(f"{db}: {r['database']}" for db, r in results.items())
        results_dir = REPO / "bench" / "results"
        results_dir.mkdir(exist_ok=True)
        (results_dir / f"{stamp:%Y%m%dT%H%M%SZ}-audit.json").write_text(json.dumps(
            {"machine": machine(), "databases": versions, "results": results, "targets": verdicts}, indent=1))
        results_file = REPO / "bench" / "RESULTS.md"
        previous = results_file.read_text(encoding="utf-8")
        head, _, rest = previous.partition("\n## ")
        entry = (f"## Audit chain — {machine()}\n\n{versions}; `ratschlag audit verify` and `audit verify --deep` "
                 f"each in its own process over a chain the tables agree with (`bench/audit_chain.py`), the median "
                 f"of {runs} runs and the largest peak memory; load average {load_before:.1f} when the run began, "
                 f"{os.getloadavg()[0]:.1f} when it ended.\n\n{output}\n\nTargets (issue 16):\n\n"
                 + "\n".join(verdicts) + "\n")
        results_file.write_text(head.rstrip() + "\n\n" + entry + ("\n## " + rest if rest else ""), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
