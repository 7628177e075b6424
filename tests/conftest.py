"""Fixtures in the style of Flask's tutorial (``app``, ``client``, ``runner``) plus factories.

Every database test runs on SQLite, and on PostgreSQL when
``RATSCHLAG_TEST_POSTGRES_URL`` is set. With ``CI=true`` an unset or unreachable
PostgreSQL is an error, never a skip. The schema is built once per backend by
the real Alembic migrations; each test then starts from an empty database (a
copy of the migrated SQLite file; truncated tables on PostgreSQL).
"""
from __future__ import annotations

import contextvars
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from flask import has_app_context
from flask.testing import FlaskCliRunner, FlaskClient

from app import config, create_app, services
from app.extensions import db

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("RATSCHLAG_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WORKFLOWS_DIR": str(REPO / "app" / "workflows"),
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "SERVER_NAME": "ratschlag.test",
    "RATELIMIT_ENABLED": False,  # the rate-limit tests switch it on
    # The installation default is German; the suite reads English unless a test asks for German.
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
}


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()
        if url.startswith("sqlite"):
            db.session.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
        db.engine.dispose()


@dataclass
class Database:
    backend: str
    template: str
    tables: list[str] = field(default_factory=list)
    counter: int = 0

    def fresh(self, tmp_path: Path) -> str:
        """A URL of an empty, migrated database for one test."""
        if self.backend == "sqlite":
            self.counter += 1
            target = tmp_path / f"test-{self.counter}.sqlite3"
            shutil.copyfile(self.template, target)
            return f"sqlite:///{target}"
        engine = sa.create_engine(self.template)
        with engine.begin() as conn:
            # As the owner we may switch the append-only triggers off to empty the table between tests.
            conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(sa.text(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY CASCADE"))
            conn.execute(sa.text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        engine.dispose()
        return self.template


def _postgres_url() -> str:
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but RATSCHLAG_TEST_POSTGRES_URL is not set: the suite must run on PostgreSQL")
        pytest.skip("RATSCHLAG_TEST_POSTGRES_URL is not set")
    url = POSTGRES_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    except sa.exc.OperationalError as error:
        message = f"PostgreSQL at RATSCHLAG_TEST_POSTGRES_URL cannot be reached: {error.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(autouse=True)
def _english_terminal(monkeypatch):
    """The CLI speaks the terminal's language; the suite reads English whatever the machine's LANG."""
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory) -> Database:
    instance = tmp_path_factory.mktemp("instance")
    if request.param == "sqlite":
        template = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
        _migrate(f"sqlite:///{template}", instance)
        return Database("sqlite", str(template))
    url = _postgres_url()
    _migrate(url, instance)
    engine = sa.create_engine(url)
    tables = [t for t in sa.inspect(engine).get_table_names() if t != "alembic_version"]
    engine.dispose()
    return Database("postgresql", url, tables)


@pytest.fixture
def app_config(database, tmp_path) -> dict:
    return {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database.fresh(tmp_path),
            "INSTANCE_PATH": str(tmp_path / "instance")}


class IsolatedClient(FlaskClient):
    """Runs each request in a fresh context with its own database session, as a server does.

    Tests hold an application context for their own queries; without this, requests would
    share its ``g`` (the cached user and locale) and its session. The test's own transaction
    ends first, so on SQLite the test sees what the request committed.
    """

    def open(self, *args, **kwargs):
        outer = has_app_context()  # not when following a redirect, already inside the fresh context
        if outer:
            db.session.rollback()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if outer:
            db.session.expire_all()  # what the test holds is read again, as the request left it
        return response


class IsolatedCliRunner(FlaskCliRunner):
    """Runs each command in a fresh context, as the ``ratschlag`` command does."""

    def invoke(self, *args, **kwargs):
        db.session.rollback()
        result = contextvars.Context().run(super().invoke, *args, **kwargs)
        db.session.expire_all()
        return result


def join_password_resets(timeout: float = 60) -> None:
    """Wait for the threads that do the work of *Forgot your password?* requests
    (``app/web/notifications.py``, ``RESET_THREAD``): the form answers before that work is done."""
    from app.web.notifications import RESET_THREAD

    for thread in threading.enumerate():
        if thread.name == RESET_THREAD:
            thread.join(timeout)
            assert not thread.is_alive(), "a password reset's thread did not finish"


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    app.test_cli_runner_class = IsolatedCliRunner
    with app.app_context():
        # The test's session keeps objects after a commit, as production does (expire_on_commit=False):
        # a service must read what it decides on inside its own transaction, and a test that plays a
        # new reader says so (expire_all). Requests and commands run in sessions of their own.
        yield app
        join_password_resets()  # none may outlive the database it writes to
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# -- factories -----------------------------------------------------------------


@pytest.fixture
def make_user(app):
    count = iter(range(1, 10_000))

    def make(name: str | None = None, email: str | None = None, superuser: bool = False, password: str | None = None):
        n = next(count)
        name = name or f"User {n}"
        email = email or f"{re.sub(r'[^a-z0-9]+', '.', name.lower()).strip('.')}.{n}@example.org"
        user, _ = services.create_user(email, name, password=password, superuser=superuser)
        return user
    return make


@dataclass
class World:
    """A process on a workflow with one user per role, and an outsider from another process."""

    process: object
    other_process: object
    author: object
    coauthor: object
    member: object
    moderator: object
    administrator: object
    outsider: object
    superuser: object

    def by_role(self, role: str):
        return None if role == "anonymous" else getattr(self, role)


def build_world(make_user, workflow: str = "citizen-recommendation", slug: str = "guidelines") -> World:
    process = services.create_process(slug, "Participation guidelines", workflow)
    other = services.create_process(f"{slug}-other", "Another district", workflow)
    people = {role: make_user(role.capitalize()) for role in
              ("author", "coauthor", "member", "moderator", "administrator", "outsider")}
    people["superuser"] = make_user("Superuser", superuser=True)
    for role, process_role in (("author", "member"), ("coauthor", "member"), ("member", "member"),
                               ("moderator", "moderator"), ("administrator", "administrator")):
        services.grant_role(process, people[role], process_role)
    services.grant_role(other, people["outsider"], "member")
    return World(process, other, **people)


@pytest.fixture
def world(make_user) -> World:
    return build_world(make_user)


@pytest.fixture
def concern_world(make_user) -> World:
    return build_world(make_user, "citizen-concern", "concerns")


@pytest.fixture
def api(client, token):
    """A JSON client for ``/api/v1`` whose every answer is checked against the OpenAPI document."""
    from tests.openapi_client import Api
    return Api(client, token)


@pytest.fixture
def token(app):
    """``token(user)``: a bearer token for the user (created once per user and test)."""
    tokens: dict[int, str] = {}

    def get(user) -> str:
        if user.id not in tokens:
            tokens[user.id] = services.create_token(user, "tests")
        return tokens[user.id]
    return get



def path_to(workflow, state: str):
    """The shortest list of transitions from the initial state to ``state``."""
    from collections import deque
    queue, seen = deque([(workflow.initial, [])]), {workflow.initial}
    while queue:
        current, path = queue.popleft()
        if current == state:
            return path
        for transition in workflow.outgoing(current):
            if transition.dest not in seen:
                seen.add(transition.dest)
                queue.append((transition.dest, path + [(current, transition)]))
    raise AssertionError(f"{state} is unreachable")


@pytest.fixture
def rec_in(app):
    """``rec_in(world, state)``: a recommendation by ``world.author`` moved to ``state`` through the service."""
    from app.workflow import engine
    from app.services import fire

    def make(world: World, state: str, title: str = "Announce participation early", body: str = "Six weeks **ahead**."):
        workflow = engine().get(world.process.workflow_id)
        rec = services.create_recommendation(world.process.id, world.author, title, body)
        for _source, transition in path_to(workflow, state):
            role = transition.roles[0]
            actor = world.author if role in ("author", "member") else world.by_role(role)
            rec = fire(rec.id, transition.trigger, actor, "Because it is right.", rec.version)
        assert rec.state == state
        return rec
    return make


def audit_count() -> int:
    from app.models import AuditEvent
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


@pytest.fixture
def people(make_user):
    """``people(world)``: give every user of a world the test password so they can sign in."""
    from tests.web.browser import PASSWORD

    def with_passwords(world: World) -> World:
        from app.transactions import write_transaction
        with write_transaction() as session:
            for role in ("author", "coauthor", "member", "moderator", "administrator", "outsider", "superuser"):
                session.get(type(world.author), getattr(world, role).id).password_hash = services.hash_password(PASSWORD)
        return world
    return with_passwords


@pytest.fixture
def browser(app):
    """``browser()``: a new browser; ``browser(user)``: one signed in as ``user``."""
    from tests.web.browser import Browser

    def open_as(user=None):
        new = Browser(app)
        return new.login(user) if user is not None else new
    return open_as


@pytest.fixture
def texts_of_old(monkeypatch):
    """Bodies as long as the limits allowed before they came down (100,000 characters; docs/security.md):
    such texts stay stored, and every page that shows or compares them must stay bounded."""
    from app.services import recommendations

    monkeypatch.setattr(recommendations, "BODY_MAX", 100_000)
