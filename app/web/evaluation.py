"""The evaluation figures (docs/evaluation.md): public, per process and installation-wide, as a
page with charts and tables and as CSV. Read from counters (app/statistics.py), so a page costs
about the same at 100,000 items as at 100."""

from __future__ import annotations

import math

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import format_decimal, format_percent, gettext as _, ngettext
from flask_login import current_user

from .. import queries, services, statistics
from ..errors import ServiceError
from ..extensions import db
from ..models import Department, Process
from ..services import categories
from ..workflow import engine
from . import bp, kept
from .charts import bar_chart
from .common import label, process_or_404, signed_in
from .follow_ups import STATUS_NAMES as FOLLOW_UP_NAMES
from .forms import AffiliationForm, CategoryForm, RouteForm

DAY = 86400


def days(seconds: int | None) -> str:
    """A percentile's bound as the page writes it ("at most" is in the column heading): minutes
    under an hour, hours under two days, else days; rounded up, so the bound stays a bound."""
    if seconds is None:
        return _("more than ten years")
    if seconds < 3600:
        minutes = math.ceil(seconds / 60)
        return ngettext("%(count)s minute", "%(count)s minutes", minutes, count=format_decimal(minutes))
    if seconds < 2 * DAY:
        return _("%(hours)s hours", hours=format_decimal(math.ceil(seconds / 360) / 10, format="#,##0.0"))
    return _("%(days)s days", days=format_decimal(math.ceil(seconds / 8640) / 10, format="#,##0.0"))


def share(value: float | None) -> str:
    return "–" if value is None else format_percent(value, format="#,##0 %")


def _state_label(process: Process | None):
    workflows = [engine().get(process.workflow_id)] if process is not None else list(engine().workflows.values())

    def state_label(name: str) -> str:
        for workflow in workflows:
            if name in workflow.states:
                return label(workflow.states[name].label)
        return name

    return state_label


def _charts(figures: statistics.Figures, state_label) -> dict:
    charts = {
        "entered": bar_chart(
            "chart-entered",
            _("How often each state was entered"),
            _(
                "One bar per state; its length is how often items entered that state (an item sent back and entering again counts again). The table below gives the numbers."
            ),
            [(state_label(s.name), s.entered, format_decimal(s.entered)) for s in figures.states],
        ),
        "durations": bar_chart(
            "chart-durations",
            _("Median time spent in each state"),
            _("One bar per state that items have left; its length is the median time spent there, in days."),
            [
                (state_label(s.name), (s.median or 0) / DAY, days(s.median))
                for s in figures.states
                if s.left and s.median is not None
            ],
        ),
    }
    if figures.departments:
        charts["departments"] = bar_chart(
            "chart-departments",
            _("Median turnaround of statements per department"),
            _("One bar per department; its length is the median time from request to answer, in days."),
            [(d.name, (d.median or 0) / DAY, days(d.median)) for d in figures.departments if d.median is not None],
        )
    if figures.groups:
        charts["groups"] = bar_chart(
            "chart-groups",
            _("People who took part, per affiliation group"),
            _("One bar per affiliation group of at least five people; its length is how many took part."),
            [(group, n, format_decimal(n)) for group, n in figures.groups],
        )
    return charts


def _page(process: Process | None):
    figures = statistics.figures(process)
    state_label = _state_label(process)
    return render_template(
        "evaluation/figures.html",
        process=process,
        figures=figures,
        state_label=state_label,
        charts=_charts(figures, state_label),
        days=days,
        share=share,
        min_group=statistics.MIN_GROUP,
        offers_groups=bool(statistics.affiliation_groups()),
        follow_up_names=FOLLOW_UP_NAMES,
    )


def _csv(process: Process | None, filename: str) -> Response:
    figures = statistics.figures(process)
    return Response(
        "".join(statistics.csv_rows(figures, _state_label(process))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/evaluation")
def evaluation():
    return _page(None)


@bp.get("/evaluation.csv")
def evaluation_csv():
    return _csv(None, "evaluation.csv")


@bp.get("/processes/<slug>/evaluation")
def process_evaluation(slug: str):
    return _page(process_or_404(slug))


@bp.get("/processes/<slug>/evaluation.csv")
def process_evaluation_csv(slug: str):
    process = process_or_404(slug)
    return _csv(process, f"{process.slug}-evaluation.csv")


@bp.route("/settings/affiliation", methods=["GET", "POST"])
@signed_in
def affiliation_settings():
    """State an affiliation group, or take it back; the figures show it only counted, in groups of
    at least five people."""
    groups = statistics.affiliation_groups()
    if not groups:
        abort(404)
    form = kept.form("affiliation", AffiliationForm, data={"group": current_user.affiliation or ""})
    form.group.choices = [("", _("I state no group"))] + [(g, g) for g in groups]
    if form.validate_on_submit():
        try:
            services.set_affiliation(current_user, form.group.data)
        except ServiceError as error:
            db.session.rollback()
            form.group.errors = [error.message]
        else:
            flash(_("Your affiliation group is saved.") if form.group.data else _("You state no group now."), "success")
            return redirect(url_for("web.affiliation_settings"))
    if form.is_submitted():
        response = kept.again("affiliation", form)  # post/redirect/get, keeping what was chosen
        if response is not None:
            return response
    return render_template("evaluation/affiliation.html", form=form, min_group=statistics.MIN_GROUP)


# -- categories of a process (administrators of the process, superusers) ----------------------


def _department_choices(current: Department | None = None) -> list[tuple[str, str]]:
    """The active departments, and the one a category routes to now even if it is deactivated (so that
    saving a new name keeps the route, which comes back when the department is activated again)."""
    choices = [("", _("The process's moderators"))] + [(d.slug, d.name) for d in queries.departments() if d.active]
    if current is not None and not current.active:
        choices.append((current.slug, _("%(name)s (deactivated: the moderators answer meanwhile)", name=current.name)))
    return choices


def _managed_process(slug: str) -> Process:
    process = process_or_404(slug)
    if not categories.may_manage(current_user, process):
        abort(403)
    return process


@bp.route("/processes/<slug>/categories", methods=["GET", "POST"])
@signed_in
def process_categories(slug: str):
    """A process's categories and where each routes; a form to add one."""
    process = _managed_process(slug)
    form = kept.form("category", CategoryForm)
    form.department.choices = _department_choices()
    if form.validate_on_submit():
        try:
            categories.create_category(process, form.slug.data, form.name.data, form.department.data or None, current_user)
        except ServiceError as error:
            db.session.rollback()
            form.slug.errors = [error.message]
        else:
            flash(_("The category %(name)s is created.", name=form.name.data), "success")
            return redirect(url_for("web.process_categories", slug=slug))
    if form.is_submitted():
        response = kept.again("category", form)  # post/redirect/get, keeping what was typed
        if response is not None:
            return response
    items = categories.categories(process.id)
    routes = {}
    for item in items:
        route = RouteForm(
            prefix=f"c{item.id}", data={"name": item.name, "department": item.department.slug if item.department else ""}
        )
        route.department.choices = _department_choices(item.department)
        routes[item.id] = route
    return render_template("evaluation/categories.html", process=process, form=form, items=items, routes=routes)


@bp.post("/processes/<slug>/categories/<category_slug>")
@signed_in
def process_category(slug: str, category_slug: str):
    """Rename a category or route it elsewhere."""
    process = _managed_process(slug)
    try:
        item = categories.find_category(process.id, category_slug)
    except ServiceError:
        abort(404)
    form = RouteForm(prefix=f"c{item.id}")
    form.department.choices = _department_choices(item.department)
    if not form.validate():
        flash(_("Give the category a name."), "error")
        return redirect(url_for("web.process_categories", slug=slug))
    try:
        categories.update_category(item, current_user, form.name.data, form.department.data or None)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        flash(_("The category %(name)s is saved.", name=form.name.data), "success")
    return redirect(url_for("web.process_categories", slug=slug))
