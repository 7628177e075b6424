"""Follow-up (Umsetzung) on the pages: report where the implementation of an adopted recommendation stands."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user

from .. import permissions, queries, services
from ..errors import ServiceError, ValidationError
from ..extensions import db
from ..models import FOLLOW_UP_STATUSES
from . import bp, kept
from .common import Shown, flash_error, recommendation_or_404, signed_in
from .forms import FollowUpForm, options

STATUS_NAMES = {"planned": _l("planned"), "in_progress": _l("in progress"), "done": _l("done"), "stalled": _l("stalled")}


def follow_up_form(shown: Shown, bound: FollowUpForm | None = None) -> FollowUpForm | None:
    """The report form, for those who may report on this recommendation now; None for everyone else."""
    rec = shown.rec
    if not permissions.takes_follow_up(shown.workflow, rec.state):
        return None
    if not permissions.can_record_follow_up(shown.roles, "department" in shown.roles):
        return None
    form = bound or FollowUpForm(formdata=None)
    form.status.choices = options((status, STATUS_NAMES[status]) for status in FOLLOW_UP_STATUSES)
    form.department.choices = options([("", _("(none)"))] + [(d.slug, d.name) for d in queries.departments()])
    return form


def _again(shown, form):
    """Back to the recommendation with the report as typed and its errors (post/redirect/get,
    app/web/kept.py); a report too long to keep is answered at once."""
    from .views import render_recommendation

    slug, number = shown.process.slug, shown.rec.number
    response = kept.back("follow-up", url_for("web.recommendation", slug=slug, number=number), form)
    if response is None:
        return render_recommendation(recommendation_or_404(slug, number), 422, follow_up=form)
    response.location += "#follow-up-heading"
    return response


@bp.post("/processes/<slug>/recommendations/<id:number>/follow-ups")
@signed_in
def record_follow_up(slug: str, number: int):

    shown = recommendation_or_404(slug, number)
    form = follow_up_form(shown, FollowUpForm())
    if form is None:
        abort(403)
    if not form.validate():
        db.session.rollback()
        return _again(shown, form)
    try:
        services.record_follow_up(
            shown.rec.id, current_user, form.status.data, form.body.data, form.next_days.data, form.department.data or None
        )
    except ServiceError as error:
        db.session.rollback()
        if error.status in (403, 404):
            abort(error.status)
        if isinstance(error, ValidationError):
            field = getattr(form, error.field or "body")
            field.errors = [*field.errors, error.message]
        else:
            flash_error(error)
        return _again(shown, form)
    flash(_("The report on the implementation is published."), "success")
    return redirect(url_for("web.recommendation", slug=slug, number=number) + "#follow-up-heading")
