"""Web pages. Thin: they read through the permission predicates and change data only via services."""
from flask import Blueprint, render_template
from werkzeug.exceptions import HTTPException

bp = Blueprint("web", __name__)


def error_page(error: HTTPException):
    return render_template("error.html", error=error), error.code


from . import views  # noqa: E402,F401
