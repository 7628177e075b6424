"""Web pages. Thin: they read through the permission predicates and change data only via services."""

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from ..extensions import db

bp = Blueprint("web", __name__)


def error_page(error: HTTPException):
    if isinstance(error, CSRFError):
        # The session ended (or the form's token expired): keep what was typed (app/web/stash.py).
        from .stash import keep_typed

        kept_answer = keep_typed()
        if kept_answer is not None:
            return kept_answer
    if (error.code or 500) >= 500:
        db.session.rollback()  # the page must render even after a failed transaction
    headers = {}
    back = None
    if error.code == 405:
        headers["Allow"] = ", ".join(sorted(getattr(error, "valid_methods", None) or ()))
        back = page_above(request.path)
    return render_template("error.html", error=error, back=back), error.code, headers


def page_above(path: str) -> str | None:
    """The page an address that only takes forms belongs to (``…/7/transition`` -> ``…/7``), if there is one."""
    parent = path.rstrip("/").rpartition("/")[0]
    if not parent:
        return None
    try:
        current_app.url_map.bind("").match(parent, method="GET")
    except RequestRedirect:
        return None
    except HTTPException:
        return None
    return parent


from . import (  # noqa: E402,F401
    admin,
    auth,
    branding,
    comments,
    drafting,
    evaluation,
    follow_ups,
    intake,
    legal,
    notifications,
    opendata,
    procedures,
    queues,
    search,
    sessions,
    statements,
    views,
)
