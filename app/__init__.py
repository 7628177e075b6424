"""Ratschlag: a deliberation and recommendation workflow engine."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, SecurityError

from . import config, security
from .extensions import babel, csrf, db, login_manager, migrate
from .ids import IdConverter
from .workflow.definition import InvalidWorkflows, load_directory
from .workflow.machines import Engine

__all__ = ["create_app", "InvalidWorkflows"]


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory. ``test_config`` overrides every other source of configuration."""
    instance = Path((test_config or {}).get("INSTANCE_PATH") or config.instance_path())
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(config.PACKAGE_ROOT / "templates"),
    )
    app.config.update(config.load(instance, test_config))
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.secret_key(instance)

    workflows, problems = load_directory(Path(app.config["WORKFLOWS_DIR"]))
    if problems:
        raise InvalidWorkflows(problems)
    app.extensions["ratschlag.engine"] = Engine(workflows)

    from . import (
        models,  # noqa: F401  (tables for Alembic)
        transactions,
    )

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            transactions.register(engine)  # SQLite pragmas and BEGIN IMMEDIATE, on our engines only
    migrate.init_app(app, db, directory=str(config.PACKAGE_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.login_message = "Please sign in to see this page."  # translated when flashed (messages.po)
    login_manager.localize_callback = gettext
    babel.init_app(app, locale_selector=select_locale)
    security.init_app(app)

    @login_manager.user_loader
    def load_user(session_id: str):
        # "<id>.<session token>.<secret>": signing out deletes the sign-in the secret names; a
        # password change replaces the token and so ends every sign-in (app/services/signins.py).
        from .services import signins

        return signins.user_for_session(session_id)

    app.url_map.converters["id"] = IdConverter
    from .api import bp as api_bp
    from .cli import register
    from .web import bp as web_bp

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens only, never with cookies
    app.register_blueprint(web_bp)
    register(app.cli)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if isinstance(error, SecurityError):  # an untrusted Host: no URL of ours can be built for it
            return "Bad request: this server does not answer for that host name.\n", 400, {"Content-Type": "text/plain"}
        if request.path.startswith("/api/"):
            from .api import error_response

            return error_response(error.code or 500, error.description or "")
        from .web import error_page

        return error_page(error)

    return app


def select_locale() -> str:
    """The person's choice (a cookie set by the language switch), else their browser's, else the installation's."""
    languages, default = current_app.config["LANGUAGES"], current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return default
    chosen = request.cookies.get(config.LANGUAGE_COOKIE)
    if chosen and chosen in languages:
        return chosen
    return str(request.accept_languages.best_match(languages) or default)
