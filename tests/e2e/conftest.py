"""Browser tests: Playwright driving Debian's Chromium against gunicorn serving the demo data.

Run with `make e2e` (which sets RATSCHLAG_E2E=1); `make test` leaves them out. The browser is the
system's (`apt-get install chromium`), never a downloaded one. axe-core is vendored in fixtures/
for the tests only. Screenshots and axe reports go to tests/e2e/artifacts/.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent.parent
ARTIFACTS = HERE / "artifacts"
AXE = HERE / "fixtures" / "axe.min.js"
CHROMIUM = os.environ.get("RATSCHLAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

if os.environ.get("RATSCHLAG_E2E") != "1":
    collect_ignore_glob = ["test_*.py"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def site():
    """gunicorn on a fresh SQLite database with the demo loaded; yields (base URL, {email: password})."""
    with tempfile.TemporaryDirectory() as instance:
        # Sign-ins repeat across journeys and languages; the limits are tested elsewhere.
        Path(instance, "config.py").write_text("RATELIMIT_ENABLED = False\n")
        env = {**os.environ, "RATSCHLAG_INSTANCE_PATH": instance, "RATSCHLAG_SECRET_KEY": "e2e",
               "RATSCHLAG_DATABASE_URL": f"sqlite:///{instance}/e2e.sqlite3", "RATSCHLAG_DEFAULT_LOCALE": "de",
               "RATSCHLAG_WORKFLOWS_DIR": str(REPO / "app" / "workflows")}
        bin_dir = Path(sys.executable).parent
        subprocess.run([str(bin_dir / "ratschlag"), "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
        demo = subprocess.run([str(bin_dir / "ratschlag"), "demo"], env=env, cwd=REPO, check=True, capture_output=True, text=True)
        logins = dict(re.findall(r"^(\S+@example\.org)\s+(\S+)", demo.stdout, re.M))
        port = free_port()
        server = subprocess.Popen([str(bin_dir / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                                   "--log-level", "warning", "app:create_app()"], env=env, cwd=REPO)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        yield base, logins
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(site, chromium):
    """``open_page(language, email=None)``: a fresh browser context in that language, signed in if asked."""
    base, logins = site
    contexts = []

    def make(language: str, email: str | None = None):
        # bypass_csp only lets the tests inject axe; the application's CSP is tested elsewhere.
        context = chromium.new_context(base_url=base, locale=language, bypass_csp=True, viewport={"width": 1100, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/language/{language}")
        if email:
            sign_in(page, language, email, logins[email])
        return page
    yield make
    for context in contexts:
        context.close()


WORDS = {
    "de": {"sign in": "Anmelden", "email": "E-Mail", "password": "Passwort"},
    "en": {"sign in": "Sign in", "email": "E-mail", "password": "Password"},
}


def sign_in(page, language: str, email: str, password: str) -> None:
    words = WORDS[language]
    page.goto("/login")
    page.get_by_label(words["email"]).fill(email)
    page.get_by_label(words["password"], exact=True).fill(password)
    page.get_by_role("main").get_by_role("button", name=words["sign in"]).click()
    page.wait_for_load_state()


def check_accessibility(page, name: str) -> list[dict]:
    """Run axe-core (WCAG 2.1 A and AA); write the report and a screenshot; return serious and critical violations."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => await axe.run(document,
        {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]
    (ARTIFACTS / f"{name}.axe.json").write_text(json.dumps(violations, indent=2, ensure_ascii=False), encoding="utf-8")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return [v for v in violations if v["impact"] in ("serious", "critical")]
