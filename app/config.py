"""Configuration: environment variables, then ``instance/config.py``, then defaults.

Kept free of Flask application objects so the CLI can find the workflows folder
even when the application refuses to start.
"""

from __future__ import annotations

import os
import secrets
import sys
import types
from pathlib import Path

#: The installed package: templates, static files, translations, migrations and the shipped workflows live here.
PACKAGE_ROOT = Path(__file__).resolve().parent
#: The cookie that remembers a person's choice from the language switch.
LANGUAGE_COOKIE = "ratschlag_language"

#: Environment variable -> configuration key. Environment wins over everything else.
ENVIRONMENT = {
    "RATSCHLAG_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "RATSCHLAG_SECRET_KEY": "SECRET_KEY",
    "RATSCHLAG_WORKFLOWS_DIR": "WORKFLOWS_DIR",
    "RATSCHLAG_DEFAULT_LOCALE": "BABEL_DEFAULT_LOCALE",
    "RATSCHLAG_TIMEZONE": "BABEL_DEFAULT_TIMEZONE",
    "RATSCHLAG_HTTPS": "HTTPS",
    "RATSCHLAG_PROXY_FIX": "PROXY_FIX",
    "RATSCHLAG_TRUSTED_HOSTS": "TRUSTED_HOSTS",
    "RATSCHLAG_RATELIMIT_STORAGE_URL": "RATELIMIT_STORAGE_URL",
    "RATSCHLAG_TOKEN_LIFETIME_DAYS": "TOKEN_LIFETIME_DAYS",
    # E-mail (docs/notifications.md)
    "RATSCHLAG_SMTP_URL": "SMTP_URL",
    "RATSCHLAG_MAIL_FROM": "MAIL_FROM",
    "RATSCHLAG_MAIL_HTML": "MAIL_HTML",
    "RATSCHLAG_BASE_URL": "BASE_URL",
    "RATSCHLAG_REMINDER_DAYS": "REMINDER_DAYS",
    "RATSCHLAG_DIGEST_HOUR": "DIGEST_HOUR",
    # The evaluation figures (docs/evaluation.md): groups people may state, separated by ";"
    "RATSCHLAG_AFFILIATION_GROUPS": "AFFILIATION_GROUPS",
}


def instance_path() -> Path:
    """The instance folder (database, secret key, site configuration).

    ``RATSCHLAG_INSTANCE_PATH`` if set; in a source checkout its ``instance/``; in an
    installed package Flask's convention, ``<sys.prefix>/var/ratschlag-instance``.
    """
    if os.environ.get("RATSCHLAG_INSTANCE_PATH"):
        return Path(os.environ["RATSCHLAG_INSTANCE_PATH"]).resolve()
    checkout = PACKAGE_ROOT.parent
    if (checkout / "pyproject.toml").is_file():
        return (checkout / "instance").resolve()
    return (Path(sys.prefix) / "var" / "ratschlag-instance").resolve()


def defaults(instance: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'ratschlag.sqlite3'}",
        "WORKFLOWS_DIR": str(PACKAGE_ROOT / "workflows"),
        # Request bodies above 1 MiB are refused with 413.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "de",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Berlin",
        "LANGUAGES": ["de", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # werkzeug's scrypt; the test suite uses a cheap method to stay fast.
        "PASSWORD_HASH_METHOD": "scrypt",
        # Sign-in and password-check throttling, kept in the database (app/services/throttle.py):
        # free failures per key, then waits that double from the first to the longest.
        "THROTTLE_FREE_PER_PAIR": 5,  # one address on one account
        "THROTTLE_FREE_PER_ADDRESS": 30,  # one address over all accounts
        "THROTTLE_FREE_PER_ACCOUNT": 20,  # one account, from addresses that never signed in to it
        "THROTTLE_FREE_PASSWORD": 5,  # wrong current passwords on the password form, per account
        "THROTTLE_FIRST_WAIT_SECONDS": 1,
        "THROTTLE_MAX_WAIT_SECONDS": 900,
        "THROTTLE_FORGET_AFTER_SECONDS": 3600,  # an idle counter starts again from zero
        "THROTTLE_KNOWN_ADDRESS_DAYS": 90,  # an address that signed in to an account stays known
        # Public intake (docs/workflows.md, "Public intake"): submissions that go through from one
        # address, and for one e-mail address, before each further one waits (as above).
        "INTAKE_FREE_PER_ADDRESS": 10,
        "INTAKE_FREE_PER_EMAIL": 3,
        "INTAKE_MIN_SECONDS": 3,  # the web form sent back sooner than this is refused
        "INTAKE_CONFIRM_HOURS": 48,  # an unconfirmed submission is deleted this long after it came in
        # API rate limits (Flask-Limiter syntax), per token and per address.
        "API_LIMIT_PER_TOKEN": "600 per minute",
        "API_LIMIT_PER_ADDRESS": "1200 per minute",
        # PDF documents (minutes, dossiers) cost a second or two of CPU each: per address.
        "PDF_LIMIT_PER_ADDRESS": "20 per minute",
        # API tokens expire after this many days; 0 keeps them until revoked.
        "TOKEN_LIFETIME_DAYS": 0,
        # E-mail: without an SMTP URL nothing is sent; the worker writes each mail as an .eml file
        # into MAIL_DIR instead, so a demo shows what would have gone out.
        "SMTP_URL": "",
        "MAIL_FROM": "ratschlag@localhost",
        "MAIL_HTML": False,  # True (or "true"): an HTML part beside the plain text, from the same text
        "BASE_URL": "",  # unset: e-mailed links point at http://127.0.0.1:5000; html_url follows the Host header
        "REMINDER_DAYS": 7,
        "DIGEST_HOUR": 7,  # in BABEL_DEFAULT_TIMEZONE
        "MAIL_RETRY_SECONDS": 60,  # the first retry; doubled per attempt, at most six hours
        "MAIL_DIR": str(instance / "mail"),
        # Affiliation groups people may state (docs/evaluation.md); none: the question is not asked.
        "AFFILIATION_GROUPS": [],
    }


def load(instance: Path, overrides: dict | None = None) -> dict:
    """Return the effective configuration as a plain dict (without the secret key fallback)."""
    config = defaults(instance)
    site_file = instance / "config.py"
    if site_file.is_file():
        module = types.ModuleType("ratschlag_instance_config")
        module.__file__ = str(site_file)
        exec(compile(site_file.read_text(encoding="utf-8"), str(site_file), "exec"), module.__dict__)
        config.update({k: v for k, v in vars(module).items() if k.isupper()})
    for variable, key in ENVIRONMENT.items():
        if os.environ.get(variable):
            config[key] = os.environ[variable]
    config.update(overrides or {})
    return config


def secret_key(instance: Path) -> str:
    """Read the installation's secret key, generating it once (mode 0600) when missing."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)  # it holds the database and the key
    key = secrets.token_urlsafe(48)
    # O_EXCL: if another worker created it a moment ago, use theirs.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
