"""Simultaneous writes against a real gunicorn server with several worker processes."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import audit
from app.extensions import db
from app.models import AuditEvent, Recommendation
from tests.conftest import REPO

pytestmark = pytest.mark.server
WORKERS = 4
CLIENTS = 12


class Server(str):
    """The API's base URL, knowing the gunicorn master's pid."""

    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(app_config, tmp_path):
    port = free_port()
    env = {**os.environ, "RATSCHLAG_DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
           "RATSCHLAG_SECRET_KEY": "server-test", "RATSCHLAG_INSTANCE_PATH": str(tmp_path / "server-instance"),
           "RATSCHLAG_WORKFLOWS_DIR": str(REPO / "app" / "workflows")}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen([str(gunicorn), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
                                "--log-level", "warning", "app:create_app()"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/processes", timeout=2)
            break
        except OSError:  # refused, reset or timed out: not up yet
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start: {process.stdout.read()}")
            time.sleep(0.2)
    running = Server(base)
    running.pid = process.pid
    yield running
    process.terminate()
    process.wait(timeout=20)


def call(method: str, url: str, token: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(payload).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def all_at_once(count: int, action) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int):
        barrier.wait()
        results[index] = action(index)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_one_of_many_simultaneous_transitions_wins(server, world, rec_in, token):
    rec = rec_in(world, "in_moderation")
    moderator = token(world.moderator)
    rec_id, version = rec.id, rec.version
    db.session.rollback()
    url = f"{server}/recommendations/{rec_id}/transitions"
    results = all_at_once(CLIENTS, lambda i: call("POST", url, moderator, {"trigger": "forward", "version": version}))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * (CLIENTS - 1), results
    assert all(body["error"]["code"] == "conflict" for status, body in results if status == 409)
    db.session.expire_all()  # the server's workers wrote the row; this session still holds its own copy
    assert db.session.get(Recommendation, rec_id).state == "steering_review"
    forwarded = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "recommendation.transitioned", AuditEvent.subject_id == rec_id)).all()
    assert sum('"trigger":"forward"' in e.data for e in forwarded) == 1
    assert audit.verify().ok


def test_simultaneous_edit_and_transition_cannot_both_win(server, world, rec_in, token):
    rec = rec_in(world, "draft")
    author = token(world.author)
    rec_id, version = rec.id, rec.version
    db.session.rollback()

    def act(index: int):
        if index % 2:
            return call("PATCH", f"{server}/recommendations/{rec_id}", author, {"title": f"Edit {index}", "version": version})
        return call("POST", f"{server}/recommendations/{rec_id}/transitions", author, {"trigger": "submit", "version": version})
    results = all_at_once(CLIENTS, act)
    assert sorted(status for status, _ in results) == [200] + [409] * (CLIENTS - 1), results
    db.session.expire_all()  # the server's workers wrote the row; this session still holds its own copy
    assert db.session.get(Recommendation, rec_id).version == version + 1
    assert audit.verify().ok


def test_simultaneous_writes_keep_numbers_unique_and_the_chain_whole(server, world, rec_in, token):
    rec = rec_in(world, "steering_review")
    people = [token(user) for user in (world.member, world.author, world.moderator, world.administrator)]
    rec_id, slug = rec.id, world.process.slug
    db.session.rollback()

    def act(index: int):
        if index % 2:
            return call("POST", f"{server}/processes/{slug}/recommendations", people[index % 4],
                        {"title": f"Parallel {index}", "body": "At the same time."})
        return call("POST", f"{server}/recommendations/{rec_id}/comments", people[index % 4], {"body": f"Comment {index}"})
    results = all_at_once(CLIENTS * 2, act)
    assert all(status == 201 for status, _ in results), results
    numbers = sorted(body["number"] for _, body in results if "number" in body)
    assert numbers == list(range(2, 2 + CLIENTS))
    result = audit.verify()
    assert result.ok, str(result)


def workers_of(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_worker_killed_mid_burst_loses_no_acknowledged_write(server, world, rec_in, token):
    import signal
    master = server.pid
    rec = rec_in(world, "steering_review")
    people = [token(user) for user in (world.member, world.author, world.moderator)]
    rec_id = rec.id
    db.session.rollback()
    sent, acknowledged, lock = set(), {}, threading.Lock()
    # The worker dies once 15 writes are acknowledged, with others still under way: no clock decides it.
    enough, killed = threading.Event(), threading.Event()

    def client(index: int):
        for n in range(15):
            if enough.is_set():
                killed.wait(120)  # new requests wait for the kill; those already sent are in flight
            body = f"Burst {index}-{n}"
            with lock:
                sent.add(body)
            try:
                status, answer = call("POST", f"{server}/recommendations/{rec_id}/comments", people[index % 3], {"body": body})
            except (urllib.error.URLError, ConnectionError, OSError):
                continue  # the connection died with the worker: not acknowledged
            if status == 201:
                with lock:
                    acknowledged[answer["id"]] = body
                    if len(acknowledged) >= 15:
                        enough.set()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    assert enough.wait(300), "fewer than 15 writes were acknowledged at all"  # (a bound against hanging)
    victim = workers_of(master)[0]
    os.kill(victim, signal.SIGKILL)
    killed.set()
    for thread in threads:
        thread.join(timeout=300)
    assert victim not in workers_of(master)  # it really died, and gunicorn started another

    db.session.rollback()
    from app.models import Comment
    stored = {c.id: c.body for c in db.session.scalars(sa.select(Comment).where(Comment.recommendation_id == rec_id))}
    assert acknowledged.items() <= stored.items()  # every 2xx is in the database
    assert set(stored.values()) <= sent  # and nothing that was not sent
    events = db.session.scalars(sa.select(AuditEvent.subject_id).where(AuditEvent.action == "comment.created")).all()
    assert sorted(events) == sorted(stored)  # every stored comment has exactly its one event, and no event lacks one
    result = audit.verify()
    assert result.ok, str(result)


def test_commenting_while_hiding_keeps_both_and_the_chain(server, world, rec_in, token, api):
    rec = rec_in(world, "steering_review")
    comments = [api.post(f"/recommendations/{rec.id}/comments", world.member, json={"body": f"Zum Verbergen {i}"}).json["id"]
                for i in range(CLIENTS)]
    moderator, member = token(world.moderator), token(world.member)
    rec_id = rec.id
    db.session.rollback()

    def act(index: int):
        if index % 2:
            return call("POST", f"{server}/comments/{comments[index]}/hide", moderator, {"reason": "Regel 2"})
        return call("POST", f"{server}/recommendations/{rec_id}/comments", member,
                    {"body": f"Antwort {index}", "parent_id": comments[index + 1]})
    results = all_at_once(CLIENTS, act)
    assert sorted({status for status, _ in results}) == [200, 201], results
    db.session.rollback()
    from app.models import Comment
    hidden = db.session.scalars(sa.select(Comment.id).where(Comment.hidden.is_(True))).all()
    assert sorted(hidden) == sorted(comments[i] for i in range(1, CLIENTS, 2))
    assert audit.verify().ok
