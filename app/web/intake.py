"""Public intake on the web (docs/workflows.md, "Public intake"): the form on a process page, the
confirmation link, and the private status page. Nothing here needs an account."""

from __future__ import annotations

import json
import time
from datetime import datetime

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from .. import permissions
from ..errors import NotFound, TooManyAttempts, ValidationError
from ..extensions import db
from ..models import AuditEvent, Process
from ..security import limiter
from ..services import categories, intake
from ..workflow import engine
from ..workflow.definition import PUBLIC, Workflow
from . import bp, kept
from .forms import ButtonForm, IntakeForm

FORM = "intake"


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="ratschlag.intake-started")


def fresh_form(process: Process) -> IntakeForm:
    """The form for a process page: as refused last time (kept), or new, with its signed start time."""
    refused = g.get("intake_refused")
    if refused is not None:  # answered directly: too long to keep in the session
        form = refused
    else:
        refusal = kept.take(FORM)
        form = kept.restore(IntakeForm, refusal) if refusal else IntakeForm()
    form.started.data = _signer().dumps(time.time())
    offered = categories.categories(process.id)
    form.category.choices = [("", _("I don't know"))] + [(c.slug, c.name) for c in offered] if offered else []
    return form


def seconds_taken(started: str | None) -> float:
    """How long the form was open; 0 for a start time we did not sign (refused as too quick)."""
    try:
        shown = _signer().loads(started or "")
    except BadSignature:
        return 0.0
    return time.time() - shown if isinstance(shown, (int, float)) else 0.0


@bp.post("/processes/<slug>/submissions")
@limiter.limit("20 per hour", methods=["POST"])
def submit_concern(slug: str):
    process = _intake_process(slug)
    form = IntakeForm()
    target = url_for("web.process", slug=process.slug) + "#intake"
    if not form.validate():
        return _back(form, target, process.slug)
    try:
        intake.submit(
            process.slug,
            form.email.data,
            form.title.data,
            form.body.data,
            name=form.name.data,
            address=request.remote_addr or "",
            honeypot=form.website.data,
            seconds_taken=seconds_taken(form.started.data),
            category=form.category.data or None,
        )
    except TooManyAttempts as error:
        form.email.errors = [error.message]
        return _back(form, target, process.slug)
    except ValidationError as error:
        field = error.field if error.field in form._fields else "body"
        form._fields[field].errors = [error.message]
        return _back(form, target, process.slug)
    # The same answer whatever happened to it (stored, a honeypot, the e-mail limit).
    return redirect(url_for("web.concern_sent", slug=process.slug), code=303)


def _back(form: IntakeForm, target: str, slug: str):
    """Back to the form with what was typed, except the honeypot (a person's next try must not
    carry what a bot, or an autofill, put there) and the start time (a new one is signed)."""
    fields = {name: values for name, values in kept.fields_of(form).items() if name not in ("website", "started")}
    response = kept.back(FORM, target, form, fields=fields)
    if response is not None:
        return response
    # Too long for the session cookie: the process page answers at once, with the form as typed.
    from .views import process

    form.website.data = ""
    g.intake_refused = form
    return process(slug), 422


@bp.get("/processes/<slug>/submissions/sent")
def concern_sent(slug: str):
    process = _intake_process(slug)
    return render_template("intake/sent.html", process=process, hours=intake.setting("INTAKE_CONFIRM_HOURS"))


def _intake_process(slug: str):
    try:
        return intake.intake_process(slug)
    except NotFound:
        abort(404)


def _invalid(message: str):
    return render_template("intake/invalid.html", message=message), 404


@bp.get("/intake/confirm/<secret>")
def confirm_concern(secret: str):
    """A GET never confirms (mail scanners open links): it shows what is to be confirmed and a button."""
    try:
        submission = intake.pending(secret)
    except NotFound as error:
        return _invalid(error.message)
    return render_template("intake/confirm.html", submission=submission, form=ButtonForm())


@bp.post("/intake/confirm/<secret>")
@limiter.limit("30 per hour", methods=["POST"])
def confirm_concern_post(secret: str):
    if not ButtonForm().validate():
        abort(400)
    try:
        submission = intake.confirm(secret)
    except NotFound as error:
        return _invalid(error.message)
    return redirect(url_for("web.concern_status", secret=intake.status_secret(submission)), code=303)


def public_steps(recommendation_id: int, workflow: Workflow) -> list[dict]:
    """The steps of a concern as its status page tells them: when it came in and each move, with
    the note that went with it (the answer, a reason) where the step led to a state the public may
    see. Who did it, internal steps' notes, comments and statements stay inside."""
    steps = []
    for at, _action, data in db.session.execute(
        select(AuditEvent.at, AuditEvent.action, AuditEvent.data)
        .where(
            AuditEvent.subject_type == "recommendation",
            AuditEvent.subject_id == recommendation_id,
            AuditEvent.action.in_(("recommendation.created", "recommendation.transitioned")),
        )
        .order_by(AuditEvent.seq)
    ):
        if not data:
            continue  # erased
        said = json.loads(data)
        state = said.get("to") or said.get("state")
        public = permissions.can_view(frozenset({PUBLIC}), workflow, state)
        steps.append(
            {
                "at": datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ"),
                "state": state,
                "note": said.get("note") if public else None,
            }
        )
    return steps


@bp.get("/intake/status/<secret>")
def concern_status(secret: str):
    try:
        submission = intake.status(secret)
    except NotFound as error:
        return _invalid(error.message)
    rec = submission.recommendation
    assert rec is not None  # intake.status answers only confirmed submissions
    workflow = engine().get(rec.process.workflow_id)
    return render_template(
        "intake/status.html",
        rec=rec,
        workflow=workflow,
        steps=public_steps(rec.id, workflow),
        process=rec.process,
        resident=bool(rec.authors and rec.authors[0].resident),
    )
