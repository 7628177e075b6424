"""The public pages: the front page, a process, a recommendation and its transitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_decimal, gettext as _
from flask_login import current_user
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import selectinload

from .. import audit, permissions, queries, services, threads, timeline
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
from ..workflow import engine, graph
from . import bp, dates, follow_ups, kept
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
    CoauthorForm,
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
    search = request.args.get("q", "").strip()[:200]
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
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            condition = and_(condition, Recommendation.title.ilike(pattern, escape="\\"))
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
    diagram = graph.svg(workflow, locale(), counts={name: counts.get(name, 0) for name in workflow.states})
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
    )


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
        request_form.department.choices = options((d.slug, d.name) for d in queries.departments())
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
    now = utcnow()
    return {
        "statements": readable,
        "request_form": request_form,
        "answer_forms": answer_forms,
        "resting_on": [s for s in readable if s.status == ANSWERED and s.visibility == "public"],
        "statement_overdue": lambda s: s.overdue(now),
    }


def render_recommendation(
    shown: Shown,
    status: int = 200,
    kept_note: tuple[str, str] | None = None,
    meanwhile_after: int | None = None,
    statement_form=None,
    follow_up=None,
    kept_texts: dict | None = None,
    note_error: str | None = None,
):
    """The recommendation page. ``kept_note`` (trigger, note), ``statement_form`` and ``kept_texts``
    ({(form, comment id or 0): text}) put back what a refused form held (app/web/kept.py); ``note_error``
    says at the note's field what was wrong with it (missing, too long)."""
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
    coauthor_form = None
    if "author" in roles and not workflow.states[rec.state].final:
        author_ids = {link.user_id for link in rec.author_links}
        candidates = db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.process_id == rec.process_id, User.active.is_(True))
            .distinct()
            .order_by(User.name)
        ).all()
        choices = options((u.id, u.name) for u in candidates if u.id not in author_ids)
        if choices:
            coauthor_form = CoauthorForm()
            coauthor_form.user_id.choices = choices
    transitions = engine().allowed(workflow.id, rec.state, roles)
    # A decision starts from the answer template of the process or the workflow, not an empty box.
    answer_templates = {
        t.trigger: queries.answer_template(shown.process, t.dest, locale(), default_locale())
        for t in transitions
        if workflow.states[t.dest].final
    }
    return render_template(
        "recommendations/detail.html",
        process=shown.process,
        rec=rec,
        workflow=workflow,
        state=workflow.states.get(rec.state),
        transitions=transitions,
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
        note_error=note_error,
        kept_texts=kept_texts or {},
        max_depth=MAX_DEPTH,
        coauthor_form=coauthor_form,
        answer_templates=answer_templates,
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
            kept_note=(kept.text(refused, "trigger"), kept.text(refused, "note")),
            meanwhile_after=refused.get("seen"),
            note_error=refused.get("note_error") or None,
        )
    if refused["form"] == "statement":
        return render_recommendation(shown, statement_form=kept_statement_form(refused))
    if refused["form"] == "follow-up":
        return render_recommendation(shown, 422, follow_up=kept.restore(FollowUpForm, refused))
    field = "body" if refused["form"] == "comment" else "reason"
    return render_recommendation(shown, kept_texts={(refused["form"], refused.get("about") or 0): kept.text(refused, field)})


STATEMENT_FORMS = {"request": StatementRequestForm, "answer": StatementAnswerForm, "decline": StatementDeclineForm}


def kept_statement_form(refused: dict):
    """A refused statement form as the person left it (``kind`` and ``prefix`` say which one)."""
    form_class = STATEMENT_FORMS.get(str(refused.get("kind")))
    if form_class is None:
        return None
    return kept.restore(form_class, refused, **({"prefix": refused["prefix"]} if refused.get("prefix") else {}))


@bp.post("/processes/<slug>/recommendations/<id:number>/transition")
def transition(slug: str, number: int):
    shown = recommendation_or_404(slug, number)
    form = TransitionForm()
    if not current_user.is_authenticated:
        return redirect(url_for("web.login", next=request.path))
    if not form.validate():
        if set(form.errors) - {"note"}:
            abort(400)  # not sent by our page, or its CSRF token expired
        refusal, error_status = " ".join(str(e) for e in form.note.errors), 422  # the note is too long
        note_error: str | None = refusal
    else:
        note_error = None
        try:
            rec = services.fire(shown.rec.id, form.trigger.data, current_user, form.note.data, form.version.data)
        except ServiceError as error:
            db.session.rollback()
            refusal, error_status = explain(error), error.status
            if isinstance(error, NoteRequired):
                note_error = refusal  # said at the field, tied to it (aria-describedby), and in the banner
        else:
            refusal = None
    if refusal is not None:
        flash(refusal, "error")
        # Back to the recommendation as it is now, with what happened meanwhile and the note typed.
        note = (form.trigger.data, form.note.data or "")
        target = url_for("web.recommendation", slug=slug, number=number)
        return kept.back(
            "transition",
            target,
            fields={"trigger": [note[0]], "note": [note[1]]},
            seen=form.seen.data,
            note_error=note_error or "",
        ) or render_recommendation(
            recommendation_or_404(slug, number),
            error_status,
            kept_note=note,
            meanwhile_after=form.seen.data,
            note_error=note_error,
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
