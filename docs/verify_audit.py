#!/usr/bin/env python3
"""Verify a Ratschlag audit export without the server: python3 verify_audit.py [--selection] audit.jsonl (or pipe it
in). v1 hashes the data, v2 its salted digest; withheld events (no data shown) link and are taken as given. --selection (a process's
download) allows gaps and checks the links only between neighbours. Standard library only."""
import hashlib, json, sys

sha = lambda text: hashlib.sha256(text.encode("utf-8")).hexdigest()
canon = lambda x: json.dumps(x, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
KEYS = {1: ("seq", "at", "actor_id", "action", "subject_type", "subject_id", "data"),
        2: ("seq", "v", "at", "actor_id", "action", "subject_type", "subject_id", "data_digest")}
selection, paths, prev, seq, count, erased = "--selection" in sys.argv, [a for a in sys.argv[1:] if a != "--selection"], "0" * 64, 0, 0, 0
with open(paths[0], encoding="utf-8") if paths else sys.stdin as lines:
    for e in map(json.loads, lines):
        linked, v, count, erased = e["seq"] == seq + 1, e.get("v", 1), count + 1, erased + bool(e.get("erased"))
        problem = ("sequence gap" if not linked and not selection else "prev_hash does not link" if linked and e["prev_hash"] != prev else
                   "a withheld event shows data" if e.get("withheld") and e["data"] is not None else
                   "data_digest does not match" if v == 2 and e["data"] is not None and sha(e["salt"] + canon(e["data"])) != e["data_digest"] else
                   "hash does not match" if not e.get("withheld") and sha(e["prev_hash"] + canon({k: e[k] for k in KEYS[v]})) != e["hash"] else None)
        if problem:
            sys.exit(f"bad: event {e['seq']}: {problem}")
        prev, seq = e["hash"], e["seq"]
print(f"ok: {count} events, head {prev}" + (f" ({erased} erased payloads not checked)" if erased else ""))
