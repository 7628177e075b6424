"""The overview of procedures (Vorhabenliste): the public list of processes, and keeping an entry.

Every process is listed to everyone, with its description, status, dates, level of participation,
contact and links. Superusers and the process's administrators keep its entry
(``permissions.can_edit_overview``); the form is on the process's admin page for superusers and on
``/processes/SLUG/overview`` for both.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import permissions, queries, services
from ..errors import ServiceError
from ..extensions import db
from ..models import PROCESS_STATUSES, Process
from ..roles import process_roles
from ..workflow import engine
from . import bp, kept
from .common import explain, process_or_404, signed_in
from .forms import OverviewForm


def status_filter() -> tuple[str | None, str | None]:
    """The ``status`` asked for, and what is wrong with it: an unknown one is said, not an empty list."""
    status = request.args.get("status") or None
    if status is not None and status not in PROCESS_STATUSES:
        return None, _("Unknown status; choose planned, running or finished.")
    return status, None


@bp.get("/processes")
def processes():
    status, problem = status_filter()
    items = queries.processes(status)
    return render_template(
        "processes/list.html",
        processes=items,
        status=status,
        problem=problem,
        workflows={p.id: engine().get(p.workflow_id) for p in items},
    ), 400 if problem else 200


def may_edit_overview(process: Process) -> bool:
    return current_user.is_authenticated and permissions.can_edit_overview(
        process_roles(current_user, process.id), bool(current_user.is_superuser)
    )


def overview_form(process: Process, formdata=None) -> OverviewForm:
    """The form filled with what the process says now (or with what was sent)."""
    form = OverviewForm(formdata=formdata)
    if formdata is None:
        form.description.data = process.description
        form.status.data = process.status
        form.starts_on.data = process.starts_on.isoformat() if process.starts_on else ""
        form.ends_on.data = process.ends_on.isoformat() if process.ends_on else ""
        form.participation.data = process.participation or ""
        form.contact.data = process.contact
        form.links.data = "\n".join(
            f"{link['url']} {link['title']}" if link["title"] != link["url"] else link["url"] for link in process.links
        )
    return form


@bp.route("/processes/<slug>/overview", methods=["GET", "POST"])
@signed_in
def process_overview(slug: str):
    process = process_or_404(slug)
    if not may_edit_overview(process):
        abort(403)
    if request.method == "GET":
        refusal = kept.take("overview")
        if refusal is not None:  # refused a moment ago: as it was typed, with its errors
            form = kept.restore(OverviewForm, refusal)
            return render_template("processes/overview.html", process=process, form=form), 422 if refusal["errors"] else 200
        return render_template("processes/overview.html", process=process, form=overview_form(process))
    form = overview_form(process, request.form)
    status = 200
    if form.validate():
        try:
            services.update_overview(
                process.id,
                current_user,
                description=form.description.data,
                status=form.status.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                participation=form.participation.data,
                contact=form.contact.data,
                links=form.links.data,
            )
        except ServiceError as error:
            db.session.rollback()
            status = error.status
            target = getattr(form, error.field, None) if error.field else None
            if target is not None:
                target.errors = list(target.errors) + [error.message]
            flash(explain(error), "error")
        else:
            flash(_("The overview of “%(title)s” is saved.", title=process.title), "success")
            return redirect(url_for("web.process", slug=slug))
    elif form.csrf_token.errors:
        abort(400)
    else:
        status = 422
    response = kept.again("overview", form)  # post/redirect/get; what is too large to keep is answered at once
    if response is not None:
        return response
    return render_template("processes/overview.html", process=process, form=form), status
