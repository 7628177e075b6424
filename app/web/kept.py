"""Post/redirect/get: every form answers with a redirect to a page, also when it was refused.

A page rendered as the answer to a POST stays at the POST's address: reloading it sends the form
again, and the next link that leads back to that address (the language switch) meets a 405. So a
form that was refused (a step no longer possible, someone else's save, a field in error) keeps
what the person typed and the errors in the session, and redirects to the page it came from,
which shows them once (:func:`take`).

The session is a signed cookie, and browsers drop cookies above 4 KB. What does not fit (a long
text) is not kept that way: :func:`back` then returns None and the page is answered directly, as
before, so nothing typed is ever lost; only reloading that answer sends it again.

More than one form can be kept at a time, one per page. A refused form's page takes it on the
very next request, so an older refusal still there is stale and goes when a new one is kept. A
form kept because the session had ended (app/web/stash.py) is different: it waits for the person
to sign in again, and a refused sign-in on the way (a wrong password) must not push it out, nor
a visit of its page while still signed out. It waits until the sign-in succeeds
(:func:`signed_in`), and is then an ordinary kept form, unless someone else signed in: a text is
kept for the person whose sign-in had ended (``owner``), never handed to the next one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, redirect, request, session
from werkzeug.datastructures import MultiDict
from wtforms import Form, SubmitField
from wtforms.csrf.core import CSRFTokenField

KEY = "kept"
#: The largest session cookie value we write (browsers keep about 4,096 bytes per cookie, name and
#: attributes included).
COOKIE_BUDGET = 3_800


def fields_of(form: Form) -> dict[str, list[str]]:
    """What the person typed into ``form`` (by full field name), without its buttons and CSRF token."""
    return {
        field.name: request.form.getlist(field.name)
        for field in form
        if not isinstance(field, (SubmitField, CSRFTokenField)) and field.name in request.form
    }


def errors_of(form: Form) -> dict[str, list[str]]:
    return {name: [str(e) for e in field.errors] for name, field in form._fields.items() if field.errors}


def _entries() -> list[dict]:
    """The kept forms, oldest first (a cookie written before there could be several holds one)."""
    stored = session.get(KEY)
    if isinstance(stored, dict):
        return [stored]
    return [entry for entry in stored or () if isinstance(entry, dict)]


def _store(entries: list[dict]) -> None:
    if entries:
        session[KEY] = entries
    else:
        session.pop(KEY, None)


def keep(
    name: str,
    target: str,
    fields: dict[str, list[str]],
    errors: dict[str, list[str]] | None = None,
    *,
    waiting: bool = False,
    **extra: Any,
) -> bool:
    """Keep a refused form for the next visit of ``target``; False when it does not fit the cookie.

    ``waiting``: kept until the person has signed in again (see the module's docstring). Forms that
    wait for a sign-in stay; any other form kept earlier is stale and goes. When the new one does not
    fit beside those that wait, it is not kept and they stay."""
    path = urlsplit(target).path
    if request.script_root and path.startswith(request.script_root):
        path = path[len(request.script_root) :]  # as ``request.path`` will say it (served under a prefix)
    kept = {"form": name, "for": path, "fields": fields, "errors": errors or {}, **extra}
    if waiting:
        kept["waiting"] = True
    others = [entry for entry in _entries() if entry.get("waiting") and entry.get("for") != path]
    serializer = current_app.session_interface.get_signing_serializer(current_app)  # type: ignore[attr-defined]  # Flask's cookie sessions
    if serializer is None or len(serializer.dumps({**dict(session), KEY: [*others, kept]})) > COOKIE_BUDGET:
        _store(others)
        return False
    _store([*others, kept])
    return True


def signed_in(user_id: int) -> None:
    """After a successful sign-in: the forms that waited for it wait no more (their page takes them
    next), if they were typed by the person who signed in; someone else's (a shared computer) go."""
    entries = _entries()
    if any(entry.get("waiting") for entry in entries):
        _store(
            [
                {key: value for key, value in entry.items() if key not in ("waiting", "owner")}
                for entry in entries
                if not entry.get("waiting") or entry.get("owner") in (None, str(user_id))
            ]
        )


def back(name: str, target: str, form: Form | None = None, fields: dict[str, list[str]] | None = None, **extra: Any):
    """Redirect to ``target`` keeping ``form`` (or ``fields``) and its errors; None when it does not fit."""
    fields = fields if fields is not None else fields_of(form)
    if not keep(name, target, fields, errors_of(form) if form is not None else {}, **extra):
        return None
    return redirect(target, code=303)


def take(*names: str) -> dict | None:
    """The form kept for this page (one of ``names``), once; None if there is none."""
    entries = _entries()
    for kept in entries:
        if kept.get("waiting"):
            continue  # for the page after the sign-in, not for a visit on the way there
        if kept.get("form") in names and kept.get("for") == request.path:
            _store([entry for entry in entries if entry is not kept])
            return kept
    return None


def restore(form_class: type[Form], kept: dict, **kwargs: Any) -> Form:
    """``form_class`` filled as the person left it, with the errors it had."""
    form = form_class(formdata=MultiDict([(key, value) for key, values in kept["fields"].items() for value in values]), **kwargs)
    for name, errors in kept["errors"].items():
        if name in form._fields:
            form._fields[name].errors = list(errors)
    return form


def text(kept: dict | None, field: str) -> str:
    """One typed text of a kept form ('' when there is none)."""
    values = (kept or {}).get("fields", {}).get(field) or [""]
    return values[0]


def form(name: str, form_class: type[Form], **kwargs: Any) -> Form:
    """The form of a page that posts to itself: as sent (POST), as it was refused (the GET after
    :func:`again`), or fresh."""
    refusal = take(name) if request.method == "GET" else None
    return restore(form_class, refusal, **kwargs) if refusal else form_class(**kwargs)


def again(name: str, form: Form):
    """After a refused POST to a page that posts to itself: back to it with the form kept; None
    (answer the page at once) when it is too large to keep."""
    return back(name, request.script_root + request.path, form)
