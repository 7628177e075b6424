"""The command line of README.md, "Command line", its output and every user-mistake path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app import services
from app.extensions import db
from app.models import ApiToken, Membership, Process, User
from tests.conftest import REPO, audit_count


def ok(result, *lines_in_output):
    assert result.exit_code == 0, (result.output, result.exception)
    for line in lines_in_output:
        assert line in result.stdout
    return result


def refused(result, message: str):
    """A user mistake: exit 1, one line on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {message}\n", result.stderr
    assert "Traceback" not in result.output
    return result


def test_users_create_generates_a_strong_password(runner):
    result = ok(runner.invoke(args=["users", "create", "Amira@Example.org", "--name", "Amira Yilmaz"]))
    password = result.stdout.splitlines()[-1].removeprefix("password: ")
    assert len(password) >= 16
    user = services.find_user("amira@example.org")
    assert user.name == "Amira Yilmaz" and not user.is_superuser
    assert check_password_hash(user.password_hash, password)
    assert password not in user.password_hash


def test_users_create_with_password_from_stdin_and_as_superuser(runner):
    result = ok(runner.invoke(args=["users", "create", "root@example.org", "--name", "Root", "--superuser",
                                    "--password-stdin"], input="correct horse battery\n"))
    assert "password" not in result.stdout
    user = services.find_user("root@example.org")
    assert user.is_superuser and check_password_hash(user.password_hash, "correct horse battery")


def test_users_create_mistakes(runner, make_user):
    make_user("Taken", email="taken@example.org")
    count = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    refused(runner.invoke(args=["users", "create", "TAKEN@example.org", "--name", "Again"]),
            "a user with the e-mail TAKEN@example.org exists already")
    refused(runner.invoke(args=["users", "create", "not-an-address", "--name", "X"]), "'not-an-address' is not an e-mail address")
    refused(runner.invoke(args=["users", "create", "a@example.org", "--name", "  "]), "name must not be blank")
    refused(runner.invoke(args=["users", "create", "a@example.org", "--name", "A", "--password-stdin"], input="short\n"),
            "the password needs at least 10 characters")
    refused(runner.invoke(args=["users", "create", "a@example.org", "--name", "A", "--password-stdin"], input=""),
            "no password on standard input")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == count


def test_users_token_prints_the_token_last_and_keeps_only_its_hash(runner, make_user, client):
    user = make_user("Token Person")
    result = ok(runner.invoke(args=["users", "token", user.email.upper(), "--label", "ci"]))
    token = result.stdout.splitlines()[-1]
    stored = db.session.scalars(sa.select(ApiToken)).one()
    assert stored.label == "ci" and token not in stored.token_hash and stored.token_hash == services.hash_token(token)
    assert client.get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    refused(runner.invoke(args=["users", "token", "ghost@example.org"]), "there is no user with the e-mail ghost@example.org")


def test_processes_create_and_grant(runner, make_user):
    ok(runner.invoke(args=["processes", "create", "leitlinien", "--title", "Leitlinien", "--workflow", "citizen-recommendation"]),
       "created process leitlinien on workflow citizen-recommendation")
    user = make_user("Granted")
    ok(runner.invoke(args=["processes", "grant", "leitlinien", user.email, "moderator"]), "is now moderator in leitlinien")
    ok(runner.invoke(args=["processes", "grant", "leitlinien", user.email, "member"]), "is now member in leitlinien")
    ok(runner.invoke(args=["processes", "grant", "leitlinien", user.email, "member"]), "was already member in leitlinien")
    roles = db.session.scalars(sa.select(Membership.role).where(Membership.user_id == user.id)).all()
    assert sorted(roles) == ["member", "moderator"]


def test_processes_mistakes(runner, make_user):
    user = make_user("Someone")
    ok(runner.invoke(args=["processes", "create", "one", "--title", "One", "--workflow", "citizen-concern"]))
    events = audit_count()
    refused(runner.invoke(args=["processes", "create", "one", "--title", "Again", "--workflow", "citizen-concern"]),
            "a process with the slug 'one' exists already")
    refused(runner.invoke(args=["processes", "create", "two", "--title", "Two", "--workflow", "nope"]),
            "there is no workflow 'nope' (known: citizen-concern, citizen-recommendation)")
    refused(runner.invoke(args=["processes", "create", "Bad Slug", "--title", "X", "--workflow", "citizen-concern"]),
            "'Bad Slug' is not a usable slug (lower-case letters, digits and '-')")
    refused(runner.invoke(args=["processes", "grant", "nope", user.email, "member"]), "there is no process 'nope'")
    refused(runner.invoke(args=["processes", "grant", "one", "ghost@example.org", "member"]),
            "there is no user with the e-mail ghost@example.org")
    refused(runner.invoke(args=["processes", "grant", "one", user.email, "mayor"]),
            "unknown role 'mayor' (known: member, moderator, administrator)")
    assert audit_count() == events
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Process)) == 1


def test_workflows_check(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("RATSCHLAG_WORKFLOWS_DIR", str(REPO / "app" / "workflows"))
    ok(runner.invoke(args=["workflows", "check"]), "ok: 2 valid workflow files (citizen-concern, citizen-recommendation)")
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: B\ninitial: a\nstates:\n  a: {}\n  b: {final: true}\ntransitions:\n"
                      "  - {trigger: go, source: a, dest: c, roles: [king]}\n", encoding="utf-8")
    result = runner.invoke(args=["workflows", "check", str(broken), str(REPO / "app" / "workflows" / "citizen-concern.yaml")])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert all(line.startswith(f"{broken}:") for line in lines)
    assert f"{broken}:7: transition 'go': dest 'c' is not a declared state" in lines
    assert f"{broken}:7: transition 'go': unknown role 'king' in 'roles' (known: author, member, moderator, administrator, department)" in lines
    assert f"{broken}:5: state 'b': a final state needs an 'outcome'" in lines
    monkeypatch.setenv("RATSCHLAG_WORKFLOWS_DIR", str(tmp_path))
    assert runner.invoke(args=["workflows", "check"]).exit_code == 1


@pytest.mark.parametrize("fmt,expected", [
    ("dot", ['digraph "citizen-recommendation"', '"in_moderation" -> "steering_review" [label="Forward to the steering round"]',
             '"adopted" [label="Adopted", peripheries=2]']),
    ("mermaid", ["stateDiagram-v2", "[*] --> draft", "in_moderation --> draft: Return to the authors", "adopted --> [*]"]),
])
def test_workflows_graph_text_formats(runner, fmt, expected):
    result = ok(runner.invoke(args=["workflows", "graph", "citizen-recommendation", "--format", fmt]))
    for fragment in expected:
        assert fragment in result.stdout


def test_workflows_graph_speaks_the_requested_language(runner, monkeypatch):
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert "in_moderation --> draft: Zur Überarbeitung zurückgeben" in runner.invoke(
        args=["workflows", "graph", "citizen-recommendation", "--format", "mermaid"]).stdout
    assert "in_moderation --> draft: Return to the authors" in runner.invoke(
        args=["workflows", "graph", "citizen-recommendation", "--format", "mermaid", "--lang", "en"]).stdout


def test_workflows_graph_svg_needs_no_system_package(runner):
    result = ok(runner.invoke(args=["workflows", "graph", "citizen-concern"]))
    root = ElementTree.fromstring(result.stdout)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    states = {g.get("data-state") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert states == {"received", "triaged", "forwarded", "answered", "declined"}
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Forwarded to a department", "Decline with reasons", "Return to triage"} <= texts
    refused(runner.invoke(args=["workflows", "graph", "nope"]),
            f"there is no workflow 'nope' ({REPO / 'app' / 'workflows' / 'nope.yaml'} does not exist)")


def test_demo_loads_every_role_and_state(runner, client):
    result = ok(runner.invoke(args=["demo"]), "Ratschlag demo logins")
    for email in ("betrieb@example.org", "amira@example.org", "mara@example.org", "stefan@example.org"):
        assert email in result.stdout
    # each login says who holds which role
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if "@example.org" in line}
    assert lines["mara@example.org"].endswith("moderator in both processes")
    assert lines["amira@example.org"].endswith("member in the guidelines process")
    assert "superuser" in lines["betrieb@example.org"] and "department Stadtentwicklungsamt" in lines["petra@example.org"]
    listing = client.get("/api/v1/processes/leitlinien-mitte/recommendations?per_page=100").json
    public_states = {item["state"] for item in listing["items"]}
    assert {"steering_review", "adopted", "adopted_in_part", "rejected"} <= public_states
    from app.models import Comment, Recommendation
    states = set(db.session.scalars(sa.select(Recommendation.state)).all())
    assert {"draft", "submitted", "in_moderation", "withdrawn", "forwarded"} <= states
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)
                             .join(Process).where(Process.slug == "leitlinien-mitte")) == 12
    comments = db.session.scalars(sa.select(Comment)).all()
    assert any(c.visibility == "internal" for c in comments) and any(c.hidden for c in comments)
    ok(runner.invoke(args=["audit", "verify"]), "ok: ")
    refused(runner.invoke(args=["demo"]), "the demo is loaded already (process 'leitlinien-mitte' exists)")
    ok(runner.invoke(args=["demo", "--if-empty"]), "nothing loaded")


# -- the real command, in its own process ----------------------------------------


def ratschlag(*args, env: dict, stdin: str = "") -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "ratschlag"), *args]
    return subprocess.run(command, env={**os.environ, **env}, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def real_env(tmp_path, app_config):
    return {"RATSCHLAG_DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"], "RATSCHLAG_SECRET_KEY": "x" * 32,
            "RATSCHLAG_INSTANCE_PATH": str(tmp_path / "instance"), "RATSCHLAG_WORKFLOWS_DIR": str(REPO / "app" / "workflows")}


def test_the_installed_command_reports_mistakes_in_one_line(real_env):
    result = ratschlag("db", "upgrade", env=real_env)
    assert result.returncode == 0, result.stderr
    result = ratschlag("processes", "grant", "nope", "a@example.org", "member", env=real_env)
    assert (result.returncode, result.stderr) == (1, "Error: there is no process 'nope'\n")
    assert result.stdout == ""
    result = ratschlag("users", "create", "a@example.org", "--name", "A", env=real_env)
    assert result.returncode == 0 and result.stdout.splitlines()[-1].startswith("password: ")
    result = ratschlag("users", "create", "A@example.org", "--name", "A", env=real_env)
    assert (result.returncode, result.stderr) == (1, "Error: a user with the e-mail A@example.org exists already\n")


def test_the_application_refuses_to_start_on_an_invalid_workflow(real_env, tmp_path):
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "good.yaml").write_text((REPO / "app" / "workflows" / "citizen-concern.yaml").read_text(encoding="utf-8"))
    (folder / "bad.yaml").write_text("title: Bad\ninitial: nowhere\nstates: {}\ntransitions: []\n", encoding="utf-8")
    env = {**real_env, "RATSCHLAG_WORKFLOWS_DIR": str(folder)}
    result = ratschlag("audit", "verify", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: invalid workflow files, the application will not start:")
    assert f"{folder / 'bad.yaml'}:3: key 'states': a workflow needs at least two states" in result.stderr
    # the check itself still runs, and names the file
    result = ratschlag("workflows", "check", env=env)
    assert result.returncode == 1 and str(folder / "bad.yaml") in result.stdout
    from app import InvalidWorkflows, create_app
    with pytest.raises(InvalidWorkflows, match="bad.yaml"):
        create_app({"WORKFLOWS_DIR": str(folder), "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path)})
