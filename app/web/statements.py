"""Departments' statements on the pages: ask a department, answer or decline, the department queue,
and the superusers' administration of departments and their members."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import permissions, queries, services
from ..errors import ServiceError, ValidationError
from ..extensions import db
from ..models import REQUESTED, Statement, User
from ..roles import department_ids, roles_for
from ..workflow import engine
from . import bp, kept
from .common import flash_error, page_number, recommendation_or_404, signed_in, superuser_only
from .forms import (
    ButtonForm,
    DepartmentForm,
    DepartmentMemberForm,
    StatementAnswerForm,
    StatementDeclineForm,
    StatementRequestForm,
    options,
)
from .views import render_recommendation


def _refused(error: ServiceError, shown, form, field: str, kind: str):
    """A refused statement write: 403/404 end on their error page, 409 says so above the page, anything
    else is shown at the form field it concerns, with the page as it is now."""
    db.session.rollback()
    if error.status in (403, 404):
        abort(error.status)
    if isinstance(error, ValidationError):
        getattr(form, field).errors = [*getattr(form, field).errors, error.message]
    else:
        flash_error(error)
    return _invalid(shown, form, kind)


def _invalid(shown, form, kind: str):
    """Back to the recommendation with the form as it was sent and its errors (app/web/kept.py); a form
    too large to keep is shown at once instead."""
    db.session.rollback()
    target = url_for("web.recommendation", slug=shown.process.slug, number=shown.rec.number)
    response = kept.back("statement", target, form, kind=kind, prefix=form._prefix.rstrip("-") or None)
    if response is not None:
        response.location += "#statements-heading"
        return response
    return render_recommendation(recommendation_or_404(shown.process.slug, shown.rec.number), 422, statement_form=form)


def _statement_or_404(statement_id: int):
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        abort(404)
    rec = statement.recommendation
    return statement, recommendation_or_404(rec.process.slug, rec.number)


def _back(shown, statement_id: int | None = None):
    return redirect(
        url_for("web.recommendation", slug=shown.process.slug, number=shown.rec.number)
        + (f"#statement-{statement_id}" if statement_id else "#statements-heading")
    )


@bp.post("/processes/<slug>/recommendations/<id:number>/statements")
@signed_in
def request_statement(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    form = StatementRequestForm()
    if not form.validate():
        return _invalid(shown, form, "request")
    try:
        statement = services.request_statement(
            shown.rec.id, current_user, form.department.data, form.question.data, form.due_days.data
        )
    except ServiceError as error:
        field = "due_days" if "due_days" in error.message else "question" if "question" in error.message.lower() else "department"
        return _refused(error, shown, form, field, "request")
    flash(_("%(name)s is asked for a statement.", name=statement.department.name), "success")
    return _back(shown, statement.id)


#: What a department member does with a request: the form, its field that errors concern, the service
#: call and the message after it.
_RESPONSES: dict[str, tuple[Any, str, Any, Any]] = {
    "answer": (
        lambda sid: StatementAnswerForm(prefix=f"s{sid}"),
        "body",
        lambda sid, form: services.answer_statement(sid, current_user, form.body.data, form.visibility.data),
        lambda: _("Your department's statement is saved."),
    ),
    "decline": (
        lambda sid: StatementDeclineForm(prefix=f"d{sid}"),
        "reason",
        lambda sid, form: services.decline_statement(sid, current_user, form.reason.data),
        lambda: _("The request is declined; your reason is shown with it."),
    ),
}


@bp.post("/statements/<id:statement_id>/<any(answer, decline):action>")
@signed_in
def respond_to_statement(statement_id: int, action: str):
    """Answer or decline a request for a statement: one handler, the differences in ``_RESPONSES``."""
    make_form, field, call, done = _RESPONSES[action]
    _statement, shown = _statement_or_404(statement_id)
    form = make_form(statement_id)
    if not form.validate():
        return _invalid(shown, form, action)
    try:
        call(statement_id, form)
    except ServiceError as error:
        db.session.rollback()
        again = db.session.get(Statement, statement_id)
        if error.status == 409 and again is not None and again.answered_by_id == current_user.id:
            flash(done(), "success")  # a double click: the first click's answer is saved
            return _back(shown, statement_id)
        return _refused(error, shown, form, field, action)
    flash(done(), "success")
    return _back(shown, statement_id)


QUEUE_PER_PAGE = 25


@bp.get("/statements")
@signed_in
def statement_queue():
    """What is asked of the person's departments, paged in the database: the open requests (overdue
    first, then by due date) and, below, the answered and declined ones (newest first)."""
    page, done_page = page_number(), page_number("done_page")
    open_items, open_total = queries.department_queue_page(current_user, REQUESTED, (page - 1) * QUEUE_PER_PAGE, QUEUE_PER_PAGE)
    done, done_total = queries.department_queue_page(current_user, "done", (done_page - 1) * QUEUE_PER_PAGE, QUEUE_PER_PAGE)

    # Only what the person may see now (a recommendation sent back may have left their sight).
    def seen(statement):
        rec = statement.recommendation
        return permissions.can_view(roles_for(current_user, rec), engine().get(rec.process.workflow_id), rec.state)

    return render_template(
        "queues/statements.html",
        open_items=[s for s in open_items if seen(s)],
        done=[s for s in done if seen(s)],
        member=bool(department_ids(current_user)),
        page=page,
        pages=max(1, -(-open_total // QUEUE_PER_PAGE)),
        done_page=done_page,
        done_pages=max(1, -(-done_total // QUEUE_PER_PAGE)),
    )


# -- administration ------------------------------------------------------------------------


@bp.route("/admin/departments", methods=["GET", "POST"])
@superuser_only
def admin_departments():
    form = kept.form("department", DepartmentForm)
    if form.is_submitted():
        if form.validate():
            try:
                department = services.create_department(form.slug.data, form.name.data, actor=current_user)
            except ServiceError as error:
                db.session.rollback()
                flash_error(error)
            else:
                flash(_("The department “%(name)s” is created. Now add its members.", name=department.name), "success")
                return redirect(url_for("web.admin_department", slug=department.slug))
        response = kept.again("department", form)
        if response is not None:
            return response
    return render_template("admin/departments.html", form=form, departments=queries.departments())


@bp.route("/admin/departments/<slug>", methods=["GET", "POST"])
@superuser_only
def admin_department(slug: str):
    try:
        department = services.find_department(slug)
    except ServiceError:
        abort(404)
    form = kept.form("department-member", DepartmentMemberForm)
    member_ids = {m.user_id for m in department.members}
    form.user_id.choices = options(
        (u.id, f"{u.name} <{u.email}>")
        for u in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
        if u.id not in member_ids
    )
    if form.is_submitted():
        if form.validate():
            user = db.session.get(User, form.user_id.data)
            if user is None:
                abort(400)
            try:
                services.add_department_member(department, user, actor=current_user)
            except ServiceError as error:
                db.session.rollback()
                flash_error(error)
            else:
                flash(_("%(name)s is now a member of %(department)s.", name=user.name, department=department.name), "success")
                return redirect(url_for("web.admin_department", slug=slug))
        response = kept.again("department-member", form)
        if response is not None:
            return response
    return render_template("admin/department.html", department=department, form=form, remove=ButtonForm())


@bp.post("/admin/departments/<slug>/members/<id:user_id>/remove")
@superuser_only
def admin_department_remove(slug: str, user_id: int):
    try:
        department = services.find_department(slug)
    except ServiceError:
        abort(404)
    user = db.session.get(User, user_id)
    if user is None or not ButtonForm().validate():
        abort(404 if user is None else 400)
    try:
        removed = services.remove_department_member(department, user, actor=current_user)
    except ServiceError as error:
        db.session.rollback()
        flash_error(error)
    else:
        flash(
            _("%(name)s is no longer a member of %(department)s.", name=user.name, department=department.name)
            if removed
            else _("%(name)s was no member.", name=user.name),
            "success" if removed else "info",
        )
    return redirect(url_for("web.admin_department", slug=slug))
