"""What the page modules share: loading what a person may see, and telling them what went wrong."""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, flash, request
from flask_babel import get_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import permissions, services
from ..errors import Conflict, Forbidden, InvalidTransition, NoteRequired, NotFound, ServiceError
from ..extensions import db, login_manager
from ..models import Process, Recommendation
from ..roles import roles_for
from ..workflow.definition import Label, Workflow

ROLE_NAMES = {"member": _l("member"), "moderator": _l("moderator"), "administrator": _l("administrator")}
#: The overview of procedures: where a process stands, and how far the public takes part.
STATUS_NAMES = {"planned": _l("planned"), "running": _l("running"), "finished": _l("finished")}
PARTICIPATION_NAMES = {"inform": _l("inform"), "consult": _l("consult"), "co-decide": _l("co-decide")}


def locale() -> str:
    return str(get_locale())


def default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def label(value: Label) -> str:
    return value.text(locale(), default_locale())


def noun(owner: Workflow | Process, plural: bool = False, capital: bool = False) -> str:
    """What a workflow (or a process's workflow) moves, in the reader's language: "recommendation",
    "concern", ... (``noun`` and ``noun_plural`` in docs/workflows.md); ``capital`` for a heading."""
    workflow = owner if isinstance(owner, Workflow) else services.workflow_of(owner)
    word = label(workflow.noun_plural if plural else workflow.noun)
    return word[:1].upper() + word[1:] if capital else word


@dataclass
class Shown:
    """A recommendation as the current user may see it."""

    process: Process
    rec: Recommendation
    workflow: Workflow
    roles: frozenset[str]


def process_or_404(slug: str) -> Process:
    try:
        return services.find_process(slug)
    except NotFound:
        abort(404)


def recommendation_or_404(slug: str, number: int) -> Shown:
    process = process_or_404(slug)
    rec = db.session.scalars(
        select(Recommendation)
        .where(Recommendation.process_id == process.id, Recommendation.number == number)
        .options(selectinload(Recommendation.author_links), selectinload(Recommendation.decision))
    ).first()
    if rec is None:
        abort(404)
    workflow = services.workflow_of(process)
    roles = roles_for(current_user, rec)
    if not permissions.can_view(roles, workflow, rec.state):
        abort(404)
    return Shown(process, rec, workflow, roles)


def explain(error: ServiceError) -> str:
    """A refused action, said in the user's language (the detail stays as the service said it)."""
    if isinstance(error, Conflict):
        return _("Someone else changed this in the meantime. Here is what it looks like now; please check and try again.")
    if isinstance(error, NoteRequired):
        return _("This step needs a note that explains it.")
    if isinstance(error, InvalidTransition):
        return _("This step is not possible any more: it has moved on in the meantime.")
    if isinstance(error, Forbidden):
        return _("You may not do this.")
    if isinstance(error, NotFound):
        return _("This does not exist, or you may not see it.")
    return _("This could not be saved: %(detail)s", detail=error.message)


def flash_error(error: ServiceError) -> None:
    flash(explain(error), "error")


def signed_in(view):
    """Pages for signed-in people only (the login page comes back here afterwards)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            if request.method == "POST":
                # Signed out meanwhile: what was typed is kept for after signing in (app/web/stash.py).
                from .stash import keep_typed

                answer = keep_typed()
                if answer is not None:
                    return answer
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper


def superuser_only(view):
    @wraps(view)
    @signed_in
    def wrapper(*args, **kwargs):
        if not current_user.is_superuser:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def page_number(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1_000_000:
        abort(400, description=_("The page number must be a whole number from 1."))
    return int(raw)
