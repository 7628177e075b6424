"""Web pages. Thin: they read through the permission predicates and change data only via services."""
from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

from ..extensions import db

bp = Blueprint("web", __name__)


def error_page(error: HTTPException):
    if error.code >= 500:
        db.session.rollback()  # the page must render even after a failed transaction
    return render_template("error.html", error=error), error.code


from . import (  # noqa: E402,F401
    admin,
    auth,
    comments,
    drafting,
    follow_ups,
    legal,
    notifications,
    opendata,
    procedures,
    queues,
    sessions,
    statements,
    views,
)
