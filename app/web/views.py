"""The public pages: the front page, a process, a recommendation and its transitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_decimal, gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import selectinload

from .. import audit, documents, permissions, queries, search as full_text, services, threads, timeline
from ..disclosure import Reader
from ..errors import NoteRequired, ServiceError
from ..extensions import db
from ..ids import parse_id
from ..models import (
    ANSWERED,
    REQUESTED,
    CommentReport,
    Decision,
    Membership,
    Recommendation,
    RecommendationAuthor,
    User,
    utcnow,
)
from ..queries import CommentView
from ..roles import department_ids, process_roles, roles_for, user_id
from ..services.validation import COMMENT_MAX
from ..workflow import engine, graph
from . import bp, dates, decisions, follow_ups, intake, kept, stash
from .common import (
    PARTICIPATION_NAMES,
    ROLE_NAMES,
    STATUS_NAMES,
    Shown,
    default_locale,
    explain,
    label,
    locale,
    noun,
    page_number,
    process_or_404,
    recommendation_or_404,
)
from .forms import (
    FollowUpForm,
    StatementAnswerForm,
    StatementDeclineForm,
    StatementRequestForm,
    TransitionForm,
    options,
)
from .procedures import status_filter

PER_PAGE = 20
MAX_DEPTH = 4  # deeper replies continue flat, each saying whom it answers
SORTS: dict[str, Any] = {
    "number": Recommendation.number.asc(),
    "-number": Recommendation.number.desc(),
    "updated": Recommendation.updated_at.desc(),
    "due": Recommendation.due_at.asc(),
    "title": Recommendation.title.asc(),
}


@bp.app_template_filter("number")
def number(value) -> str:
    return format_decimal(value)


# An erased person's pseudonym in the reader's language: ``{{ comment.author.name | person }}``.
bp.add_app_template_filter(timeline.person, "person")

# In place of Flask-Babel's filter of the same name (registered before the blueprints).
bp.add_app_template_filter(dates.datetimeformat, "datetimeformat")
bp.add_app_template_filter(dates.days_since, "days_since")


@bp.app_context_processor
def helpers():
    held = set()
    if current_user.is_authenticated:
        held = set(db.session.scalars(select(Membership.role).where(Membership.user_id == current_user.id).distinct()))
        if department_ids(current_user):
            held.add("department")
    return {
        "label": label,
        "get_locale": locale,
        "now": utcnow(),
        "held_roles": held,
        "role_names": ROLE_NAMES,
        "status_names": STATUS_NAMES,
        "participation_names": PARTICIPATION_NAMES,
        "noun": noun,
        "comment_max": COMMENT_MAX,
        "pdf_available": documents.available,
    }


# -- the front page --------------------------------------------------------------


@bp.get("/")
def index():
    status, problem = status_filter()
    processes = queries.processes(status)
    every = processes if status is None else queries.processes()
    workflows = {p.id: engine().get(p.workflow_id) for p in every}
    visible = {p.id: queries.visible(current_user, p) for p in every}
    overview = [(p, workflows[p.id], queries.counts_by_state(queries.visible_counts(current_user, p))) for p in processes]
    seen = or_(false(), *visible.values())
    decisions = db.session.scalars(
        select(Decision)
        .join(Recommendation)
        .where(seen)
        .order_by(Decision.decided_at.desc())
        .limit(10)
        .options(selectinload(Decision.recommendation).selectinload(Recommendation.process))
    ).all()
    overdue = db.session.scalars(
        select(Recommendation)
        .where(seen, Recommendation.due_at < utcnow())
        .order_by(Recommendation.due_at)
        .limit(50)
        .options(selectinload(Recommendation.process))
    ).all()
    return render_template(
        "index.html",
        overview=overview,
        decisions=decisions,
        overdue=overdue,
        workflows=workflows,
        status=status,
        problem=problem,
        overdue_follow_ups=queries.overdue_follow_ups(seen, utcnow()),
    ), 400 if problem else 200


# -- a process -------------------------------------------------------------------


@bp.get("/processes/<slug>")
def process(slug: str):
    process = process_or_404(slug)
    workflow = engine().get(process.workflow_id)
    roles = process_roles(current_user, process.id)
    visible_counts = queries.visible_counts(current_user, process, roles)
    counts = queries.counts_by_state(visible_counts)

    state = request.args.get("state") or None
    if state is not None and state not in workflow.states:
        state = None
    author_id = request.args.get("author", "")
    search = request.args.get("q", "").strip()
    sort = request.args.get("sort", "number")
    sort = sort if sort in SORTS else "number"
    page = page_number()
    options = (selectinload(Recommendation.author_links),)

    if sort in ("number", "-number") and not parse_id(author_id) and not search:
        # The usual view: counted and paged from the kept counts, as cheap at page 5,000 as at page 1.
        total = queries.total(visible_counts, state)
        items = queries.visible_page(
            current_user,
            process,
            roles,
            visible_counts,
            state,
            (page - 1) * PER_PAGE,
            PER_PAGE,
            descending=sort == "-number",
            options=options,
        )
    else:
        condition = queries.visible(current_user, process, roles)
        if state is not None:
            condition = and_(condition, Recommendation.state == state)
        if parse_id(author_id):
            authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == parse_id(author_id))
            condition = and_(condition, Recommendation.id.in_(authored))
        if search:  # titles, texts and the comments the reader may read (app/search.py)
            try:
                found = full_text.matching_ids(current_user, search, process)
            except ServiceError as error:
                abort(400, description=error.message)
            condition = and_(condition, Recommendation.id.in_(found) if found is not None else false())
        total = db.session.scalar(select(func.count()).select_from(Recommendation).where(condition)) or 0
        items = list(
            db.session.scalars(
                select(Recommendation)
                .where(condition)
                .order_by(SORTS[sort], Recommendation.id)
                .offset((page - 1) * PER_PAGE)
                .limit(PER_PAGE)
                .options(*options)
            )
        )
    authors = db.session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.process_id == process.id)
        .distinct()
        .order_by(User.name)
    ).all()
    diagram = workflow_rows(workflow)
    return render_template(
        "processes/detail.html",
        process=process,
        workflow=workflow,
        counts=counts,
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        state=state,
        author_id=author_id,
        search=search,
        sort=sort,
        sorts=SORTS,
        authors=authors,
        diagram=diagram,
        can_create=permissions.can_create(roles),
        can_edit_overview=current_user.is_authenticated and permissions.can_edit_overview(roles, current_user.is_superuser),
        intake_form=intake.fresh_form(process) if services.intake.takes_submissions(process) else None,
    )


#: Who fires a transition, as the process page's list of states says it.
FIRED_BY = {**ROLE_NAMES, "author": _l("the authors"), "department": _l("a department")}


@dataclass(frozen=True)
class StateRow:
    """One state of the process page's workflow list, with the steps that leave it."""

    name: str
    text: str
    final: bool
    position: int | None  # on the main path: its place (1, 2, ...)
    steps: list[tuple[str, str, str, bool]]  # (step, destination state, destination's label, needs a justification)
    fired_by: list[str]


def workflow_rows(workflow) -> list[StateRow]:
    """The workflow as a list a phone can read: the states of the main path in their order, then
    the others as the file lists them, each with the steps that leave it and who takes them."""
    main = graph.main_path(workflow)
    order = main + [name for name in workflow.states if name not in main]
    rows = []
    for name in order:
        state = workflow.states[name]
        outgoing = workflow.outgoing(name)
        rows.append(
            StateRow(
                name,
                label(state.label),
                state.final,
                main.index(name) + 1 if name in main else None,
                [
                    (t.display(locale(), default_locale()), t.dest, label(workflow.states[t.dest].label), t.requires_note)
                    for t in outgoing
                ],
                [", ".join(str(FIRED_BY.get(role, role)) for role in t.roles) for t in outgoing],
            )
        )
    return rows


@bp.get("/processes/<slug>/audit.jsonl")
def process_audit(slug: str):
    """The audit events about a process's recommendations and comments that an anonymous visitor
    may see, as JSON lines, streamed: what they may not read is null, the hashes are all there
    (docs/verify_audit.py --selection checks them)."""
    process = process_or_404(slug)

    def lines(process_id: int):
        # Queried once streaming began: the view's own session has ended by then, and with it
        # any cursor opened in it (PostgreSQL streams from a server-side cursor).
        for judged in Reader(None).judged(queries.process_events(process_id), only_visible=True):
            yield json.dumps(audit.event_dict(*judged), ensure_ascii=False) + "\n"

    return Response(
        stream_with_context(lines(process.id)),
        mimetype="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="{process.slug}-audit.jsonl"'},
    )


# -- a recommendation ------------------------------------------------------------


def thread_rows(comments: list[CommentView]) -> list[tuple[CommentView, int, CommentView | None]]:
    """Comments in reading order as (comment, depth, the comment it answers when shown flat)."""
    return threads.thread_rows(comments, MAX_DEPTH)


def statement_parts(shown: Shown, bound=None) -> dict:
    """The statements the reader may read, and the forms they may use on them (``bound``: a form
    that was sent and refused, shown again with its errors in place of its empty twin)."""
    rec, workflow, roles = shown.rec, shown.workflow, shown.roles
    mine = department_ids(current_user)
    readable = [s for s in queries.statements_of(rec.id) if permissions.can_read_statement(roles, s, s.department_id in mine)]
    request_form = None
    if permissions.can_request_statement(roles, workflow, rec.state):
        request_form = bound if isinstance(bound, StatementRequestForm) else StatementRequestForm(formdata=None)
        request_form.department.choices = options((d.slug, d.name) for d in queries.departments() if d.active)
        asking = workflow.states[rec.state].statements
        if asking is not None and request_form.due_days.data is None and not request_form.due_days.errors:
            request_form.due_days.data = asking.due_days
    answer_forms = {}
    for statement in readable:
        if statement.status == REQUESTED and permissions.can_answer_statement(statement.department_id in mine):
            answer = StatementAnswerForm(prefix=f"s{statement.id}", formdata=None)
            decline = StatementDeclineForm(prefix=f"d{statement.id}", formdata=None)
            if bound is not None and bound._prefix == answer._prefix:
                answer = bound
            if bound is not None and bound._prefix == decline._prefix:
                decline = bound
            answer_forms[statement.id] = (answer, decline)
    # A refused answer or decline whose request no longer takes one (answered, declined or
    # withdrawn in the meantime): its form is gone from the page, so its text is shown to keep.
    unsaved = None
    placed = any(bound in pair for pair in answer_forms.values())
    if isinstance(bound, (StatementAnswerForm, StatementDeclineForm)) and not placed:
        unsaved = (bound.body if isinstance(bound, StatementAnswerForm) else bound.reason).data or None
    now = utcnow()
    return {
        "unsaved_statement": unsaved,
        "statements": readable,
        "request_form": request_form,
        "answer_forms": answer_forms,
        "resting_on": [s for s in readable if s.status == ANSWERED and s.visibility == "public"],
        "statement_overdue": lambda s: s.overdue(now),
    }


@dataclass(frozen=True)
class Step:
    """One state of the stepper: ``status`` done, current or next."""

    name: str
    text: str
    status: str
    due: datetime | None = None  # the current step's decision date
    deadline_days: int | None = None  # a next step's time limit once it is reached


def _last_transition(events) -> tuple[Any, dict] | None:
    for event in reversed(events):
        if event.action == "recommendation.transitioned":
            return event, (json.loads(event.data) if event.data is not None else {})
    return None


def stepper(rec: Recommendation, workflow, events) -> list[Step]:
    """The workflow's main path through the recommendation's state (app/workflow/graph.py): what is
    behind it, where it is, and what comes next. A final state off the main path (withdrawn,
    rejected) follows the way to the state it was left from."""
    path = graph.main_path(workflow, rec.state)
    last = _last_transition(events)
    if workflow.states[rec.state].final and last is not None:
        source = str(last[1].get("from"))
        if source in workflow.states and source != rec.state:
            way = graph.main_path(workflow, source)
            path = way[: way.index(source) + 1] + [rec.state]
    here = path.index(rec.state) if rec.state in path else -1
    steps = []
    for index, name in enumerate(path):
        state = workflow.states[name]
        status = "done" if index < here else "current" if index == here else "next"
        steps.append(
            Step(
                name,
                label(state.label),
                status,
                rec.due_at if status == "current" else None,
                state.deadline_days if status == "next" else None,
            )
        )
    return steps


def latest_note(entries: list[timeline.Entry], events) -> timeline.Entry | None:
    """The note of the step that brought the recommendation where it is (a moderator's note to the
    authors, a decision's justification), when there is one and the reader may read it."""
    last = _last_transition(events)
    if last is None:
        return None
    entry = next((e for e in entries if e.seq == last[0].seq), None)
    return entry if entry is not None and entry.note else None


def render_recommendation(
    shown: Shown,
    status: int = 200,
    decision_form: TransitionForm | None = None,
    meanwhile_after: int | None = None,
    statement_form=None,
    follow_up=None,
    kept_texts: dict | None = None,
    kept_problems: dict | None = None,
):
    """The recommendation page. ``decision_form`` (the decision form as it was sent),
    ``statement_form`` and ``kept_texts`` ({(form, comment id or 0): text}) put back what a refused
    form held (app/web/kept.py)."""
    rec, workflow, roles = shown.rec, shown.workflow, shown.roles
    comments = queries.comments_of(rec.id)
    readable = [c for c in comments if permissions.can_read_comment(roles, c)]
    tab = request.args.get("tab")
    internal_tab = tab == "internal" and permissions.can_comment(roles, "internal")
    rows = thread_rows([c for c in readable if (c.visibility == "internal") == internal_tab])
    events = queries.events_of(rec.id)
    entries = timeline.entries(events, {c.id: c for c in comments}, workflow, roles, locale(), default_locale())
    meanwhile = [e for e in entries if meanwhile_after is not None and e.seq > meanwhile_after]
    reports: Sequence[CommentReport] = ()
    if permissions.can_hide_comment(roles):
        reports = db.session.scalars(
            select(CommentReport).where(
                CommentReport.comment_id.in_([c.id for c in comments]), CommentReport.resolved_at.is_(None)
            )
        ).all()
    uid = user_id(current_user)
    steps = decisions.choices(shown.process, workflow, rec.state, roles)
    form = decision_form or TransitionForm(formdata=None)
    if decision_form is None and len(steps) == 1:
        form.trigger.data = steps[0].trigger  # the only step there is: nothing to choose wrongly
    if decision_form is None and decisions.chosen(steps, form.trigger.data) is not None:
        form.note.data = decisions.with_template(steps, form.trigger.data, "")[0]
    kept_note = None
    if decision_form is not None and decisions.chosen(steps, decision_form.trigger.data) is None:
        kept_note = decision_form.note.data or ""  # the step it was meant for is gone
    return render_template(
        "recommendations/detail.html",
        process=shown.process,
        rec=rec,
        workflow=workflow,
        state=workflow.states.get(rec.state),
        steps=steps,
        decision=form,
        note_hint=decisions.note_hint(steps),
        confirm_hint=decisions.confirm_hint(steps),
        stepper=stepper(rec, workflow, events),
        latest_note=latest_note(entries, events),
        rows=rows,
        internal_tab=internal_tab,
        can_internal=permissions.can_comment(roles, "internal"),
        can_comment=permissions.can_comment(roles, "internal" if internal_tab else "public"),
        can_moderate=permissions.can_hide_comment(roles),
        can_edit=permissions.can_edit(roles, workflow, rec.state),
        can_report=uid is not None and permissions.can_comment(roles, "public"),
        can_text=lambda c: permissions.can_read_comment_text(roles, c),
        can_edit_comment=lambda c: permissions.can_edit_comment(uid, c),
        entries=entries,
        meanwhile=meanwhile,
        reports=reports,
        seen=events[-1].seq if events else 0,
        kept_note=kept_note,
        kept_texts=kept_texts or {},
        kept_problems={key: problem for key, problem in (kept_problems or {}).items() if problem},
        max_depth=MAX_DEPTH,
        can_invite="author" in roles and permissions.can_edit(roles, workflow, rec.state),
        follow_ups=queries.follow_ups_of(rec.id) if rec.decision is not None else [],
        follow_up_form=follow_ups.follow_up_form(shown, follow_up),
        status_names=follow_ups.STATUS_NAMES,
        overdue=rec.due_at is not None and rec.due_at < utcnow(),
        **statement_parts(shown, statement_form),
    ), status


@bp.get("/processes/<slug>/recommendations/<id:number>")
def recommendation(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    refused = kept.take("transition", "comment", "report", "hide", "statement", "follow-up")
    if refused is None:
        return render_recommendation(shown)
    if refused["form"] == "transition":
        return render_recommendation(
            shown,
            decision_form=kept.restore(TransitionForm, refused),
            meanwhile_after=refused.get("seen"),
        )
    if refused["form"] == "statement":
        return render_recommendation(shown, statement_form=kept_statement_form(refused))
    if refused["form"] == "follow-up":
        return render_recommendation(shown, 422 if refused["errors"] else 200, follow_up=kept.restore(FollowUpForm, refused))
    field = "body" if refused["form"] == "comment" else "reason"
    key = (refused["form"], refused.get("about") or 0)
    return render_recommendation(shown, kept_texts={key: kept.text(refused, field)}, kept_problems={key: refused.get("problem")})


STATEMENT_FORMS = {"request": StatementRequestForm, "answer": StatementAnswerForm, "decline": StatementDeclineForm}


def kept_statement_form(refused: dict):
    """A refused statement form as the person left it (``kind`` and ``prefix`` say which one)."""
    form_class = STATEMENT_FORMS.get(str(refused.get("kind")))
    if form_class is None:
        return None
    return kept.restore(form_class, refused, **({"prefix": refused["prefix"]} if refused.get("prefix") else {}))


@bp.post("/processes/<slug>/recommendations/<id:number>/transition")
def transition(slug: str, number: int):
    """The decision form: one step chosen, one note, a confirmation where the step is final; or the
    button that comes back with the chosen step's answer template in the note."""
    if not current_user.is_authenticated:  # before the lookup: a signed-out person may not see a non-public item
        return stash.keep_typed() or redirect(url_for("web.login", next=request.path))
    shown = recommendation_or_404(slug, number)
    form = TransitionForm()
    valid = form.validate()
    if not valid and set(form.errors) - {"note", "trigger"}:
        abort(400)  # not sent by our page
    steps = decisions.choices(shown.process, shown.workflow, shown.rec.state, shown.roles)
    errors: dict[str, list[str]] = {}
    refusal, error_status, rec = None, 422, None
    if form.template.data:
        if decisions.chosen(steps, form.trigger.data) is None:
            errors["trigger"] = [_("Choose a step first; its answer template then fills the note.")]
        else:
            form.note.data, replaced = decisions.with_template(steps, form.trigger.data, form.note.data)
            if not replaced:
                flash(_("The note holds your own text, so it was left as it is."), "info")
        error_status = 200
    else:
        # Every field's error at once: what the form says, and what the chosen step needs.
        errors = {name: [str(e) for e in field_errors] for name, field_errors in form.errors.items()} if not valid else {}
        for name, problem in decisions.problems(steps, form.trigger.data, form.note.data, bool(form.confirm.data)).items():
            errors.setdefault(name, []).append(problem)
    if not errors and not form.template.data:
        try:
            rec = services.fire(shown.rec.id, form.trigger.data, current_user, form.note.data, form.version.data)
        except NoteRequired as error:
            db.session.rollback()
            errors["note"] = [explain(error)]
        except ServiceError as error:
            db.session.rollback()
            refusal, error_status = explain(error), error.status
    if rec is None:
        if refusal is not None:
            flash(refusal, "error")
        elif errors:
            flash(_("Please check the form: %(problems)s", problems=" ".join(e for es in errors.values() for e in es)), "error")
        # Back to the recommendation as it is now, with what happened meanwhile and what was typed.
        target = url_for("web.recommendation", slug=slug, number=number)
        fields = {"trigger": [form.trigger.data or ""], "note": [form.note.data or ""]}
        if form.confirm.data:
            fields["confirm"] = ["y"]
        if kept.keep("transition", target, fields, errors, seen=form.seen.data):
            return redirect(target, code=303)
        for name, field_errors in errors.items():
            form[name].errors = field_errors
        return render_recommendation(
            recommendation_or_404(slug, number), error_status, decision_form=form, meanwhile_after=form.seen.data
        )
    flash(
        _(
            "Done: %(noun)s %(number)s is now “%(state)s”.",
            noun=noun(shown.workflow, capital=True),
            number=rec.number,
            state=label(shown.workflow.states[rec.state].label),
        ),
        "success",
    )
    if not permissions.can_view(roles_for(current_user, rec), shown.workflow, rec.state):
        return redirect(url_for("web.process", slug=slug))
    return redirect(url_for("web.recommendation", slug=slug, number=number))
