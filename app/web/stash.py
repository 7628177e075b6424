"""What was typed survives an ended session (issue 18, item 8).

A form sent after the session ended (the session cookie gone with the browser, the sign-in ended
elsewhere, the form's CSRF token older than its time limit) cannot be accepted. Instead of a bare
400 that loses the text, the typed fields of the forms below are kept the way a refused form
keeps them (app/web/kept.py: in the signed session cookie, for the page the form was on, shown
once), and the person is sent to sign in with ``next`` leading back to that page, which puts the
text back into its form. Someone still signed in (only the token had expired) goes straight back.
The kept text waits for the sign-in: a refused sign-in on the way (a wrong password) keeps its own
form beside it and does not push it out (app/web/kept.py).

Only these forms are kept, and only their text fields: never a password. A text too long for the
cookie is shown on an answer page to copy instead, so it is not lost either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..ids import parse_id
from ..models import Comment, Statement
from . import kept, page_above


def _about_parent() -> dict[str, Any]:
    return {"about": parse_id(request.form.get("parent_id"))}


def _about_comment() -> dict[str, Any]:
    return {"about": (request.view_args or {}).get("comment_id")}


def _about_item() -> dict[str, Any]:
    rid = (request.view_args or {}).get("recommendation_id")
    return {"about": rid, "status": 422}


def _seen() -> dict[str, Any]:
    return {"seen": parse_id(request.form.get("seen"))}


def _nothing() -> dict[str, Any]:
    return {}


def _no_errors() -> dict[str, Any]:
    """For a page that answers a kept form 422 unless told otherwise: nothing was wrong with it."""
    return {"status": 200}


def _statement_request() -> dict[str, Any]:
    return {"kind": "request", "prefix": None}


def _statement_response() -> dict[str, Any]:
    args = request.view_args or {}
    action = args.get("action")
    return {"kind": action, "prefix": f"{'s' if action == 'answer' else 'd'}{args.get('statement_id')}"}


#: endpoint -> (the kept form's name as its page takes it, the fields kept, what else the page needs).
#: ``None`` as the fields: every field of the form that is not a token.
FORMS: dict[str, tuple[str, tuple[str, ...] | None, Callable[[], dict[str, Any]]]] = {
    "web.create_comment": ("comment", ("body",), _about_parent),
    "web.transition": ("transition", ("trigger", "note", "confirm"), _seen),
    "web.report_comment": ("report", ("reason",), _about_comment),
    "web.hide_comment": ("hide", ("reason",), _about_comment),
    "web.new_recommendation": ("recommendation", ("title", "body"), _nothing),
    "web.edit_recommendation": ("recommendation", ("title", "body", "version"), _nothing),
    "web.edit_comment": ("comment-edit", ("body",), _nothing),
    "web.session_decide": ("session-decide", None, _about_item),
    "web.session_minutes": ("session-minutes", ("place", "participants", "notes"), _no_errors),
    "web.request_statement": ("statement", ("department", "question", "due_days"), _statement_request),
    "web.respond_to_statement": ("statement", None, _statement_response),
    "web.record_follow_up": ("follow-up", ("status", "body", "next_days", "department"), _nothing),
    "web.answer_templates": ("answer-templates", None, _nothing),
    "web.process_overview": ("overview", None, _nothing),
    "web.sessions": ("session-new", ("title", "held_at", "place", "participants"), _nothing),
    # A resident's concern: never its honeypot nor its signed start time (a new one is signed).
    "web.submit_concern": ("intake", ("name", "email", "title", "body", "category"), _nothing),
}
#: Forms for people without an account: what was typed comes back on the page, not after a sign-in.
NO_SIGN_IN = {"web.submit_concern"}
#: Forms that post to their own page: the page is the form's own address.
SELF_POSTING = {
    "web.new_recommendation",
    "web.edit_recommendation",
    "web.edit_comment",
    "web.answer_templates",
    "web.process_overview",
    "web.sessions",
}
NEVER = ("csrf_token", "password", "current", "new")


def _local(url: str | None) -> str | None:
    """A page of ours from a Referer: its path and query (same host only)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _same_origin() -> bool:
    """Sent from one of our pages: another site's forged form must not put its text into our forms."""
    origin = request.headers.get("Origin")
    if origin and (origin == "null" or urlsplit(origin).netloc != request.host):
        return False
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def _comment_page() -> str | None:
    comment = db.session.get(Comment, (request.view_args or {}).get("comment_id") or 0)
    if comment is None:
        return None
    rec = comment.recommendation
    return url_for("web.recommendation", slug=rec.process.slug, number=rec.number)


def _statement_page() -> str | None:
    statement = db.session.get(Statement, (request.view_args or {}).get("statement_id") or 0)
    if statement is None:
        return None
    rec = statement.recommendation
    return url_for("web.recommendation", slug=rec.process.slug, number=rec.number)


#: Forms whose address is not below their page: where the page is found when the browser sent no Referer.
PAGES: dict[str, Callable[[], str | None]] = {
    "web.report_comment": _comment_page,
    "web.hide_comment": _comment_page,
    "web.respond_to_statement": _statement_page,
}


def page_of_form() -> str:
    """The page the form was sent from."""
    if request.endpoint in SELF_POSTING:
        return request.script_root + request.path
    referred = _local(request.referrer)
    if referred:
        return referred
    if request.endpoint in PAGES and (page := PAGES[request.endpoint]()):
        return page
    above = page_above(request.path)
    return request.script_root + above if above else url_for("web.index")


def keep_typed():
    """After a form that cannot be accepted because the session ended: keep what was typed for its
    page and lead there (through the login page when signed out). None for a form not kept here."""
    if request.method != "POST" or request.endpoint not in FORMS or not _same_origin():
        return None
    name, names, extra = FORMS[request.endpoint]

    def wanted(key: str) -> bool:
        return key in names if names is not None else not any(key.endswith(word) for word in NEVER)

    fields = {key: request.form.getlist(key) for key in request.form if wanted(key)}
    page = page_of_form()
    if request.endpoint == "web.create_comment" and request.form.get("visibility") == "internal":
        page = urlsplit(page).path + "?tab=internal"  # an internal note comes back in the internal box
    signed_in = current_user.is_authenticated or request.endpoint in NO_SIGN_IN
    where = page if signed_in else url_for("web.login", next=page)
    # Whose sign-in ended (Flask-Login's id in the session cookie): the text goes back to them only.
    # (``<user id>.<sign-in token>.<secret>``, app/models.py ``get_id``: the user id is its first part).
    cookie_id = str(session.get("_user_id") or "")
    owner = None if signed_in or not cookie_id else cookie_id.partition(".")[0]
    if kept.keep(name, page, fields, {}, waiting=not signed_in, **({"owner": owner} if owner else {}), **extra()):
        flash(
            _("This form had been open too long to be accepted. What you typed is back: please send it again.")
            if signed_in
            else _("Your session had ended. Sign in again: what you typed is kept and comes back on the page."),
            "error",
        )
        return redirect(where, code=303)
    # Too long for the cookie: shown here to copy, so nothing typed is lost.
    texts = [value for key in fields for value in fields[key] if len(value) > 40 or "\n" in value]
    return render_template("stash.html", texts=texts, where=where, signed_in=signed_in), 400
