#!/usr/bin/env python3
"""Verify a Ratschlag audit export without the server: ratschlag audit export > audit.jsonl
then: python3 verify_audit.py audit.jsonl   (or pipe the export in). Standard library only."""
import hashlib, json, sys

FIELDS = ("seq", "at", "actor_id", "action", "subject_type", "subject_id", "data")
prev, expected_seq = "0" * 64, 1
with open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin as lines:
    for line in lines:
        event = json.loads(line)
        canonical = json.dumps({k: event[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()
        problem = ("sequence gap" if event["seq"] != expected_seq else
                   "prev_hash does not link" if event["prev_hash"] != prev else
                   "hash does not match" if event["hash"] != digest else None)
        if problem:
            sys.exit(f"bad: event {event['seq']}: {problem}")
        prev, expected_seq = event["hash"], expected_seq + 1
print(f"ok: {expected_seq - 1} events, head {prev}")
