"""Sessions of the steering round on the pages: the list, one session with its agenda and one
decision form per item, the minutes (also as a PDF once closed), the process's answer templates,
and a recommendation's dossier as a PDF."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import documents, permissions, queries, services, timeline
from ..errors import ServiceError, ValidationError
from ..extensions import db
from ..models import Recommendation, SteeringSession
from ..roles import process_roles, roles_for
from ..security import limiter
from ..workflow import engine
from . import bp, decisions, follow_ups, kept, stash
from .common import default_locale, flash_error, label, locale, page_number, process_or_404, signed_in
from .forms import AgendaAddForm, ButtonForm, MinutesForm, SessionDecisionForm, SessionForm, options as choices

PER_PAGE = 20


def _session_or_404(session_id: int) -> SteeringSession:
    meeting = db.session.get(SteeringSession, session_id)
    if meeting is None:
        abort(404)
    return meeting


def _refused(error: ServiceError, form=None, field: str | None = None):
    """403/404 end on their error page; anything else is said above the page (and at its field)."""
    db.session.rollback()
    if error.status in (403, 404):
        abort(error.status)
    if form is not None and isinstance(error, ValidationError) and (error.field or field):
        target = getattr(form, error.field or field or "", None)
        if target is not None:
            target.errors = [*target.errors, error.message]
            return None
    flash_error(error)
    return None


# -- the list ------------------------------------------------------------------------------


@bp.route("/processes/<slug>/sessions", methods=["GET", "POST"])
def sessions(slug: str):
    process = process_or_404(slug)
    manage = permissions.can_manage_sessions(process_roles(current_user, process.id))
    form = kept.form("session-new", SessionForm) if manage else None
    if request.method == "POST":
        if not current_user.is_authenticated:  # what was typed is kept for after the sign-in (app/web/stash.py)
            return stash.keep_typed() or redirect(url_for("web.login", next=request.path))
        if not manage or form is None:
            abort(403)
        if form.validate():
            try:
                meeting = services.create_session(
                    process.id, current_user, form.title.data, form.held_at.data, form.place.data, form.participants.data
                )
            except ServiceError as error:
                _refused(error, form, "title")
            else:
                flash(_("The session “%(title)s” is created. Now set its agenda.", title=meeting.title), "success")
                return redirect(url_for("web.session", session_id=meeting.id))
        response = kept.again("session-new", form)
        if response is not None:
            return response
        status = 422
    else:
        status = 422 if form is not None and form.errors else 200
    page = page_number()
    items, total = queries.sessions_of(process.id, (page - 1) * PER_PAGE, PER_PAGE)
    return render_template(
        "sessions/list.html", process=process, sessions=items, form=form, page=page, pages=max(1, -(-total // PER_PAGE))
    ), status


# -- one session ------------------------------------------------------------------------------


def render_session(meeting: SteeringSession, status: int = 200, bound: dict | None = None, for_document: bool = False):
    """The session's page; ``for_document``: as the minutes' document, without any form."""
    bound = bound or {}
    process = meeting.process
    workflow = engine().get(process.workflow_id)
    manage = permissions.can_manage_sessions(process_roles(current_user, process.id)) and not for_document
    pairs = services.readable_items(meeting, current_user)
    items = [item for item, _shown in pairs]
    forms, add_form, minutes_form = {}, None, None
    if manage and not meeting.closed:
        own = queries.answer_templates(process)
        for item in items:
            if item.result_state is not None:
                continue
            steps = decisions.choices(
                process, workflow, item.recommendation.state, roles_for(current_user, item.recommendation), own
            )
            if not steps:
                continue
            form = bound.get(item.recommendation_id)
            if form is None:
                form = SessionDecisionForm(prefix=f"i{item.recommendation_id}", formdata=None)
                if len(steps) == 1:  # the only decision there is: nothing to choose wrongly
                    form.trigger.data = steps[0].trigger
                    form.note.data = steps[0].template
            forms[item.recommendation_id] = (
                form,
                steps,
                decisions.note_hint(steps),
                decisions.confirm_hint(steps),
                item.recommendation.version,
            )
        add_form = bound.get("add") or AgendaAddForm(formdata=None)
        add_form.recommendation_id.choices = choices(
            (rec.id, f"{rec.number}: {rec.title}") for rec in queries.waiting_for_decision(process, exclude_session=meeting.id)
        )
        minutes_form = bound.get("minutes") or MinutesForm(formdata=None, obj=meeting)
    shown = [entry for _item, entry in pairs]
    # A refused decision whose item takes none any more (another administrator decided it first):
    # its form is gone from the page, so what was typed is shown beside the item, with the reason.
    unsaved = {
        rid: (form.note.data, [str(e) for field in form for e in field.errors])
        for rid, form in bound.items()
        if isinstance(rid, int) and rid not in forms and (form.note.data or "").strip()
    }
    return render_template(
        "sessions/detail.html",
        process=process,
        workflow=workflow,
        meeting=meeting,
        items=shown,
        unsaved=unsaved,
        names=queries.names_of({item.decided_by_id for item in shown if item.decided_by_id}),
        manage=manage,
        forms=forms,
        add_form=add_form,
        minutes_form=minutes_form,
        button=ButtonForm(),
        for_document=for_document,
        ready=len(queries.ready_for_agenda(process, exclude_session=meeting.id)) if add_form is not None else 0,
    ), status


@bp.get("/sessions/<id:session_id>")
def session(session_id: int):
    """The session; a form refused a moment ago comes back as it was typed, with its errors."""
    refusal = kept.take("session-add", "session-minutes", "session-decide")
    bound: dict = {}
    if refusal is not None and refusal["form"] == "session-add":
        bound["add"] = kept.restore(AgendaAddForm, refusal)
    elif refusal is not None and refusal["form"] == "session-minutes":
        bound["minutes"] = kept.restore(MinutesForm, refusal)
    elif refusal is not None:
        bound[refusal["about"]] = kept.restore(SessionDecisionForm, refusal, prefix=f"i{refusal['about']}")
    return render_session(_session_or_404(session_id), refusal.get("status", 422) if refusal else 200, bound)


def _back(meeting: SteeringSession, anchor: str = ""):
    return redirect(url_for("web.session", session_id=meeting.id) + anchor)


def _again(meeting: SteeringSession, anchor: str, name: str, form, status: int, key: Any, **extra: Any):
    """After a refusal: back to the session's page with the form kept (post/redirect/get); what is
    too large to keep is answered at once, as the page with the form."""
    target = url_for("web.session", session_id=meeting.id)
    response = kept.back(name, target, form, **extra)
    if response is None:
        return render_session(meeting, status, {key: form})
    response.location += anchor
    return response


def _button_or_400() -> None:
    if not ButtonForm().validate():
        abort(400)


@bp.post("/sessions/<id:session_id>/agenda")
@signed_in
def session_add(session_id: int):
    meeting = _session_or_404(session_id)
    form = AgendaAddForm()
    if not form.validate():
        abort(400)
    try:
        services.add_to_agenda(meeting.id, current_user, form.recommendation_id.data)
    except ServiceError as error:
        _refused(error, form, "recommendation_id")
        return _again(meeting, "#agenda-heading", "session-add", form, error.status, "add")
    flash(_("The recommendation is on the agenda."), "success")
    return _back(meeting, "#agenda-heading")


@bp.post("/sessions/<id:session_id>/agenda/ready")
@signed_in
def session_add_ready(session_id: int):
    meeting = _session_or_404(session_id)
    _button_or_400()
    try:
        added = services.add_ready(meeting.id, current_user)
    except ServiceError as error:
        _refused(error)
        return _back(meeting, "#agenda-heading")
    flash(
        _("%(count)s recommendations added to the agenda.", count=len(added))
        if added
        else _("Nothing more is ready for a decision."),
        "success" if added else "info",
    )
    return _back(meeting, "#agenda-heading")


@bp.post("/sessions/<id:session_id>/agenda/<id:recommendation_id>/<any(up, down, remove):action>")
@signed_in
def session_item(session_id: int, recommendation_id: int, action: str):
    meeting = _session_or_404(session_id)
    _button_or_400()
    try:
        if action == "remove":
            services.remove_from_agenda(meeting.id, current_user, recommendation_id)
        else:
            services.move_item(meeting.id, current_user, recommendation_id, -1 if action == "up" else 1)
    except ServiceError as error:
        _refused(error)
    return _back(meeting, "#agenda-heading")


@bp.post("/sessions/<id:session_id>/minutes")
@signed_in
def session_minutes(session_id: int):
    meeting = _session_or_404(session_id)
    form = MinutesForm()
    if not form.validate():
        db.session.rollback()
        return _again(meeting, "#minutes-heading", "session-minutes", form, 422, "minutes")
    try:
        services.update_minutes(meeting.id, current_user, form.place.data, form.participants.data, form.notes.data)
    except ServiceError as error:
        _refused(error, form, "notes")
        return _again(meeting, "#minutes-heading", "session-minutes", form, error.status, "minutes")
    flash(_("The minutes are saved."), "success")
    return _back(meeting, "#minutes-heading")


@bp.post("/sessions/<id:session_id>/decide/<id:recommendation_id>")
@signed_in
def session_decide(session_id: int, recommendation_id: int):
    """One agenda item's decision form (app/web/decisions.py): decide, or come back with the chosen
    decision's answer template in the justification."""
    meeting = _session_or_404(session_id)
    form = SessionDecisionForm(prefix=f"i{recommendation_id}")
    valid = form.validate()
    if not valid and set(form.errors) - {"note", "trigger"}:
        abort(400)
    rec = db.session.get(Recommendation, recommendation_id)
    if rec is None or rec.process_id != meeting.process_id:
        abort(404)
    workflow = engine().get(meeting.process.workflow_id)
    steps = decisions.choices(meeting.process, workflow, rec.state, roles_for(current_user, rec))
    status = 422
    # Every field's error at once, each at its field: the form's own and what the chosen decision needs.
    needs = {} if form.template.data else decisions.problems(steps, form.trigger.data, form.note.data, bool(form.confirm.data))
    if form.template.data:
        status = 200
        if decisions.chosen(steps, form.trigger.data) is None:
            form.trigger.errors = [_("Choose a decision first; its answer template then fills the justification.")]
        else:
            form.note.data, replaced = decisions.with_template(steps, form.trigger.data, form.note.data)
            if not replaced:
                flash(_("The note holds your own text, so it was left as it is."), "info")
    elif not valid or needs:
        for name, problem in needs.items():
            form[name].errors = [*form[name].errors, problem]
    else:
        try:
            services.decide(meeting.id, current_user, recommendation_id, form.trigger.data, form.note.data, form.version.data)
        except ServiceError as error:
            _refused(error, form, "note")
        else:
            flash(_("Decided. The decision is recorded with this session."), "success")
            return _back(meeting, f"#item-{recommendation_id}")
    # What was typed (the note with the template put in) stays in the form, with the agenda as it is now.
    fields = {**kept.fields_of(form), form.note.name: [form.note.data or ""]}
    target = url_for("web.session", session_id=meeting.id)
    if kept.keep("session-decide", target, fields, kept.errors_of(form), about=recommendation_id, status=status):
        return redirect(f"{target}#item-{recommendation_id}", code=303)
    return render_session(meeting, status, {recommendation_id: form})


@bp.post("/sessions/<id:session_id>/close")
@signed_in
def session_close(session_id: int):
    meeting = _session_or_404(session_id)
    _button_or_400()
    if not permissions.can_manage_sessions(process_roles(current_user, meeting.process_id)):
        abort(403)
    if meeting.closed:  # a second click, or another administrator was quicker: nothing to do, and not an error
        flash(_("This session is closed already; its minutes are final and nothing was changed."), "info")
        return _back(meeting)
    minutes = MinutesForm()
    typed = minutes.place.name in request.form  # sent from the minutes' own form, with what was typed there
    if request.form.get("confirm") != "yes":
        flash(_("Tick “The minutes are complete” to close the session: closing cannot be undone."), "error")
        if typed:  # what was typed comes back with the form, nothing is lost
            return _again(meeting, "#close-heading", "session-minutes", minutes, 422, "minutes")
        return _back(meeting, "#close-heading")
    try:
        if typed:
            if not minutes.validate():
                db.session.rollback()
                return _again(meeting, "#minutes-heading", "session-minutes", minutes, 422, "minutes")
            services.update_minutes(meeting.id, current_user, minutes.place.data, minutes.participants.data, minutes.notes.data)
        services.close_session(meeting.id, current_user)
    except ServiceError as error:
        _refused(error)
        return _back(meeting)
    flash(_("The session is closed; its minutes are final."), "success")
    return _back(meeting)


def _pdf_limit() -> str:
    """One budget for every PDF a client address asks for (minutes and dossiers)."""
    return current_app.config["PDF_LIMIT_PER_ADDRESS"]


@bp.get("/sessions/<id:session_id>/minutes.pdf")
@limiter.shared_limit(_pdf_limit, scope="pdf")
def session_pdf(session_id: int):
    """The closed session's minutes as a tagged PDF: its own page, rendered for print."""
    meeting = _session_or_404(session_id)
    if not meeting.closed:
        abort(404)
    html = render_session(meeting, for_document=True)[0]
    try:
        pdf = documents.pdf_from_html(html, request.url_root, url_for("static", filename="", _external=True))
    except documents.PdfUnavailable as error:
        current_app.logger.error("%s", error)
        abort(503)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="minutes-{meeting.process.slug}-{meeting.id}.pdf"'},
    )


# -- answer templates -----------------------------------------------------------------------


@bp.route("/processes/<slug>/answer-templates", methods=["GET", "POST"])
@signed_in
def answer_templates(slug: str):
    process = process_or_404(slug)
    if not permissions.can_manage_sessions(process_roles(current_user, process.id)):
        abort(403)
    workflow = engine().get(process.workflow_id)
    finals = [state for state in workflow.states.values() if state.final]
    form = ButtonForm()
    refusal = kept.take("answer-templates") if request.method == "GET" else None
    typed = {key.removeprefix("template-"): values[0] for key, values in (refusal or {}).get("fields", {}).items()}
    if request.method == "POST":
        if not form.validate():
            abort(400)
        changed = 0
        try:
            for state in finals:
                if f"template-{state.name}" in request.form:
                    changed += services.set_answer_template(
                        process.id, current_user, state.name, request.form[f"template-{state.name}"]
                    )
        except ServiceError as error:
            _refused(error)
            # Back to the page with every text as typed (post/redirect/get); too large to keep: shown at once.
            fields = {key: [value] for key, value in request.form.items() if key.startswith("template-")}
            response = kept.back("answer-templates", request.script_root + request.path, fields=fields)
            if response is not None:
                return response
            typed = {key.removeprefix("template-"): values[0] for key, values in fields.items()}
        else:
            flash(_("The answer templates are saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("web.answer_templates", slug=slug))
    own = queries.answer_templates(process)
    rows = [
        (
            state,
            typed.get(state.name, own.get(state.name)),
            label(state.answer_template) if state.answer_template is not None else "",
        )
        for state in finals
    ]
    return render_template("sessions/answer_templates.html", process=process, workflow=workflow, rows=rows, form=form)


@bp.app_template_filter("sessiondate")
def sessiondate(value) -> str:
    """A session's date and time, as entered (local time: never shifted between time zones)."""
    from babel import dates as babel_dates
    from flask_babel import get_locale

    if value.hour == 0 and value.minute == 0:
        return babel_dates.format_date(value.date(), "full", locale=get_locale())
    return babel_dates.format_datetime(
        value, "EEEE, d. MMMM y, HH:mm" if str(get_locale()).startswith("de") else "EEEE, d MMMM y, HH:mm", locale=get_locale()
    )


# -- a recommendation's dossier --------------------------------------------------------------


@bp.get("/processes/<slug>/recommendations/<id:number>/dossier.pdf")
@limiter.shared_limit(_pdf_limit, scope="pdf")
def dossier_pdf(slug: str, number: int):
    """One recommendation as a tagged PDF: text, authors, statements, decision, follow-up, timeline, and
    the hashes of its audit events, as the reader may see them."""
    from .common import recommendation_or_404
    from .views import statement_parts

    shown = recommendation_or_404(slug, number)
    rec, workflow, roles = shown.rec, shown.workflow, shown.roles
    events = queries.events_of(rec.id)
    comments = {c.id: c for c in queries.comments_of(rec.id)}
    entries = timeline.entries(events, comments, workflow, roles, locale(), default_locale())
    parts = statement_parts(shown)
    html = render_template(
        "recommendations/dossier.html",
        process=shown.process,
        rec=rec,
        workflow=workflow,
        statements=parts["statements"],
        resting_on=parts["resting_on"],
        entries=entries,
        events=events,
        follow_ups=queries.follow_ups_of(rec.id),
        status_names=follow_ups.STATUS_NAMES,
    )
    try:
        pdf = documents.pdf_from_html(html, request.url_root, url_for("static", filename="", _external=True))
    except documents.PdfUnavailable as error:
        current_app.logger.error("%s", error)
        abort(503)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="dossier-{shown.process.slug}-{rec.number}.pdf"'},
    )
