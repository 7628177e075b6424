"""Reading many recommendations at once, filtered in the database by what the reader may see.

The list endpoints of the API and every list page build on ``visible``: one
definition of visibility for lists, derived from the same predicates as
``app.permissions``. Lists ordered by number count and page with
``visible_counts`` and ``visible_page``, whose cost does not grow with the
number of recommendations: they read the counts the database keeps per state
and block of numbers (``RecommendationCount``) instead of every row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import accumulate
from typing import Any, ClassVar

from sqlalchemy import and_, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from . import audit, permissions
from .extensions import db
from .models import (
    ANSWERED,
    COUNT_BLOCK,
    OPEN,
    REQUESTED,
    AgendaItem,
    AnswerTemplate,
    AuditEvent,
    Category,
    Comment,
    CommentReport,
    Decision,
    Department,
    DepartmentMember,
    FollowUp,
    Membership,
    Process,
    Recommendation,
    RecommendationAuthor,
    RecommendationCount,
    Statement,
    SteeringSession,
    User,
)
from .roles import department_ids, process_roles, remember_department_role, remember_roles, user_id
from .workflow import engine


def _personal(user: Any, workflow, roles: frozenset[str], by_authorship: list[str]) -> ColumnElement[bool] | None:
    """What ``user`` sees beyond ``roles``: their own recommendations in states open to authors, and
    those their department was asked about in states open to ``department``; None if nothing."""
    uid = user_id(user)
    if uid is None:
        return None
    parts = []
    if by_authorship:
        authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == uid)
        parts.append(and_(Recommendation.state.in_(by_authorship), Recommendation.id.in_(authored)))
    by_department = permissions.department_states(roles, workflow)
    if by_department and department_ids(user):  # people in no department pay nothing here
        asked = (
            select(Statement.recommendation_id)
            .join(DepartmentMember, DepartmentMember.department_id == Statement.department_id)
            .where(DepartmentMember.user_id == uid)
        )
        parts.append(and_(Recommendation.state.in_(by_department), Recommendation.id.in_(asked)))
    return or_(*parts) if parts else None


def visible(user: Any, process: Process, roles: frozenset[str] | None = None) -> ColumnElement[bool]:
    """A condition true for the recommendations of ``process`` that ``user`` may see."""
    roles = process_roles(user, process.id) if roles is None else roles
    workflow = engine().get(process.workflow_id)
    by_role, by_authorship = permissions.visible_states(roles, workflow)
    condition: ColumnElement[bool] = Recommendation.state.in_(by_role)
    personal = _personal(user, workflow, roles, by_authorship)
    if personal is not None:
        condition = or_(condition, personal)
    return and_(Recommendation.process_id == process.id, condition)


#: How many visible recommendations lie in each (state, block of numbers).
Counts = dict[tuple[str, int], int]


def visible_counts(user: Any, process: Process, roles: frozenset[str] | None = None) -> Counts:
    """What ``user`` may see of ``process``, counted per (state, block): the same set as ``visible``."""
    roles = process_roles(user, process.id) if roles is None else roles
    workflow = engine().get(process.workflow_id)
    by_role, by_authorship = permissions.visible_states(roles, workflow)
    counts: Counter[tuple[str, int]] = Counter()
    if by_role:
        for state, block, count in db.session.execute(
            select(RecommendationCount.state, RecommendationCount.block, RecommendationCount.count).where(
                RecommendationCount.process_id == process.id, RecommendationCount.state.in_(by_role)
            )
        ):
            counts[(state, block)] += count
    personal = _personal(user, workflow, roles, by_authorship)
    if personal is not None:  # a person's own drafts, their department's requests: few, counted one by one
        for state, number in db.session.execute(
            select(Recommendation.state, Recommendation.number).where(Recommendation.process_id == process.id, personal)
        ):
            counts[(state, (number - 1) // COUNT_BLOCK)] += 1
    return {key: count for key, count in counts.items() if count > 0}


def counts_by_state(counts: Counts) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for (state, _block), count in counts.items():
        totals[state] += count
    return dict(totals)


def total(counts: Counts, state: str | None = None) -> int:
    """How many of the counted recommendations there are (in ``state``, if given)."""
    return sum(count for (in_state, _block), count in counts.items() if state is None or in_state == state)


def visible_page(
    user: Any,
    process: Process,
    roles: frozenset[str],
    counts: Counts,
    state: str | None,
    offset: int,
    limit: int,
    descending: bool = False,
    options: Sequence[Any] = (),
) -> list[Recommendation]:
    """Rows ``offset`` to ``offset + limit`` of what ``user`` may see (in ``state``, if given), by number.

    ``counts`` (from ``visible_counts``) says in which blocks of numbers those rows lie, so the
    database reads only those blocks, however long the list: no OFFSET over the rows before.
    """
    per_block: Counter[int] = Counter()
    for (in_state, block), count in counts.items():
        if state is None or in_state == state:
            per_block[block] += count
    before, reached = 0, 0
    first: int | None = None
    last = 0
    for block in sorted(per_block, reverse=descending):
        if first is None and before + per_block[block] <= offset:
            before += per_block[block]
            continue
        first = block if first is None else first
        last, reached = block, reached + per_block[block]
        if before + reached >= offset + limit:
            break
    if first is None:
        return []
    low, high = sorted((first, last))
    condition = and_(
        visible(user, process, roles),
        Recommendation.number > low * COUNT_BLOCK,
        Recommendation.number <= (high + 1) * COUNT_BLOCK,
    )
    if state is not None:
        condition = and_(condition, Recommendation.state == state)
    order = Recommendation.number.desc() if descending else Recommendation.number.asc()
    return list(
        db.session.scalars(
            select(Recommendation).where(condition).order_by(order).offset(offset - before).limit(limit).options(*options)
        )
    )


def events_of(recommendation_id: int) -> list[AuditEvent]:
    """What the audit trail holds about a recommendation, its comments, their reports and its statements, oldest first."""
    comment_ids = select(Comment.id).where(Comment.recommendation_id == recommendation_id)
    report_ids = select(CommentReport.id).where(CommentReport.comment_id.in_(comment_ids))
    statement_ids = select(Statement.id).where(Statement.recommendation_id == recommendation_id)
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    and_(AuditEvent.subject_type == "recommendation", AuditEvent.subject_id == recommendation_id),
                    and_(AuditEvent.subject_type == "comment", AuditEvent.subject_id.in_(comment_ids)),
                    and_(AuditEvent.subject_type == "comment_report", AuditEvent.subject_id.in_(report_ids)),
                    and_(AuditEvent.subject_type == "statement", AuditEvent.subject_id.in_(statement_ids)),
                )
            )
            .order_by(AuditEvent.seq)
        )
    )


def process_events(process_id: int):
    """The audit events about a process's recommendations and comments, oldest first, streamed."""
    rec_ids = select(Recommendation.id).where(Recommendation.process_id == process_id)
    comment_ids = select(Comment.id).where(Comment.recommendation_id.in_(rec_ids))
    return audit.stream(
        or_(
            and_(AuditEvent.subject_type == "recommendation", AuditEvent.subject_id.in_(rec_ids)),
            and_(AuditEvent.subject_type == "comment", AuditEvent.subject_id.in_(comment_ids)),
        )
    )


@dataclass(frozen=True, slots=True)
class Author:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class CommentView:
    """A comment as threads and lists show it, with the same attribute names as ``Comment``.

    Read as plain rows: a thread may hold thousands of comments, and building ORM objects
    for them cost twice the query (sampled with py-spy). Changes load ``Comment`` itself.
    """

    id: int
    recommendation_id: int
    parent_id: int | None
    author_id: int
    body: str
    body_html: str
    visibility: str
    created_at: datetime
    hidden: bool
    hidden_reason: str | None
    edited_at: datetime | None
    author: Author


_VIEW_COLUMNS = [getattr(Comment, f.name) for f in fields(CommentView) if f.name != "author"]


def comments_of(recommendation_id: int) -> list[CommentView]:
    """Every comment of a recommendation, oldest first, with its author."""
    authors: dict[int, Author] = {}
    rows = db.session.execute(
        select(*_VIEW_COLUMNS, User.name)
        .join(User, User.id == Comment.author_id)
        .where(Comment.recommendation_id == recommendation_id)
        .order_by(Comment.id)
    )
    return [
        CommentView(*row[:-1], authors.setdefault(row.author_id, Author(row.author_id, row[-1])))  # type: ignore[call-arg]
        for row in rows
    ]  # the columns are the view's fields, in order


@dataclass(frozen=True, slots=True)
class DecisionView:
    outcome: str
    state: str
    note: str | None
    decided_by: Author
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class RecommendationView:
    """One recommendation as an answer shows it, with the attribute names of ``Recommendation``
    (``process_slug``, ``workflow_id``, ``author_ids`` are properties there), so serializers and
    permission checks take either.

    Read with one plain statement for the transition service, whose every request reads one:
    loading the model with its process, authors and decision cost five to ten times as much.
    """

    audit_subject_type: ClassVar[str] = "recommendation"

    id: int
    process_id: int
    process_slug: str
    workflow_id: str
    number: int
    title: str
    body: str
    body_html: str
    state: str
    version: int
    state_entered_at: datetime
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    category_id: int | None
    category_slug: str | None
    category_name: str | None
    authors: tuple[Author, ...]
    decision: DecisionView | None

    @property
    def author_ids(self) -> list[int]:
        return [author.id for author in self.authors]


def _recommendation_view_statement():
    """The statement, and where in its rows the view's own columns, the author, the decision and a
    flag per process role stand (a row per author)."""
    r, p, a = Recommendation.__table__, Process.__table__, RecommendationAuthor.__table__
    d, author, decider = Decision.__table__, User.__table__.alias("author"), User.__table__.alias("decider")
    m, st, dm = Membership.__table__, Statement.__table__, DepartmentMember.__table__
    cat = Category.__table__
    own = [
        r.c.id,
        r.c.process_id,
        p.c.slug,
        p.c.workflow_id,
        r.c.number,
        r.c.title,
        r.c.body,
        r.c.body_html,
        r.c.state,
        r.c.version,
        r.c.state_entered_at,
        r.c.created_at,
        r.c.updated_at,
        r.c.due_at,
        r.c.category_id,
        cat.c.slug,
        cat.c.name,
    ]
    groups = [
        own,
        [a.c.user_id, author.c.name],
        [d.c.outcome, d.c.state, d.c.note, d.c.decided_by_id, decider.c.name, d.c.decided_at],
        [
            exists().where(m.c.process_id == r.c.process_id, m.c.user_id == bindparam("user_id"), m.c.role == role)
            for role in permissions.PROCESS_ROLES
        ],
        # The department role: a member of a department asked for a statement on it.
        [
            exists().where(
                st.c.recommendation_id == r.c.id, dm.c.department_id == st.c.department_id, dm.c.user_id == bindparam("user_id")
            )
        ],
    ]
    statement = (
        select(*(column for group in groups for column in group))
        .join(p, p.c.id == r.c.process_id)
        .outerjoin(cat, cat.c.id == r.c.category_id)
        .outerjoin(a, a.c.recommendation_id == r.c.id)
        .outerjoin(author, author.c.id == a.c.user_id)
        .outerjoin(d, d.c.recommendation_id == r.c.id)
        .outerjoin(decider, decider.c.id == d.c.decided_by_id)
        .where(r.c.id == bindparam("id"))
        .order_by(a.c.position)
    )
    ends = list(accumulate(map(len, groups)))
    return statement, *(slice(start, end) for start, end in zip([0, *ends], ends, strict=False))


_RECOMMENDATION_VIEW, _OWN, _AUTHOR, _DECISION, _ROLES, _DEPARTMENT = _recommendation_view_statement()


def recommendation_view(recommendation_id: int, user: Any) -> RecommendationView | None:
    """A recommendation with its process, authors and decision, in one statement; None if there is none.

    The same statement reads the roles ``user`` holds in its process, which ``permissions``
    then knows for the rest of the request.
    """
    rows = db.session.execute(_RECOMMENDATION_VIEW, {"id": recommendation_id, "user_id": user_id(user)}).all()
    if not rows:
        return None
    first = rows[0]
    authors = tuple(Author(*row[_AUTHOR]) for row in rows if row[_AUTHOR][0] is not None)
    outcome, state, note, decided_by_id, decider, decided_at = first[_DECISION]
    decision = None if outcome is None else DecisionView(outcome, state, note, Author(decided_by_id, decider), decided_at)
    remember_roles(
        user, first.process_id, {role for role, held in zip(permissions.PROCESS_ROLES, first[_ROLES], strict=True) if held}
    )
    remember_department_role(user, first.id, bool(first[_DEPARTMENT][0]))
    return RecommendationView(*first[_OWN], authors, decision)  # type: ignore[call-arg]  # columns in field order


# -- statements ------------------------------------------------------------------------


def open_statement_departments(recommendation_id: int) -> list[str]:
    """The names of the departments whose statements on a recommendation are still open."""
    return list(
        db.session.scalars(
            select(Department.name)
            .join(Statement, Statement.department_id == Department.id)
            .where(Statement.recommendation_id == recommendation_id, Statement.status == REQUESTED)
            .order_by(Department.name)
        )
    )


def statements_of(recommendation_id: int) -> list[Statement]:
    """Every statement asked for on a recommendation, oldest first, with department and people."""
    return list(
        db.session.scalars(select(Statement).where(Statement.recommendation_id == recommendation_id).order_by(Statement.id))
    )


def departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.name)))


def department_queue_page(user: Any, status: str, offset: int, limit: int) -> tuple[list[Statement], int]:
    """One page of what is asked of ``user``'s departments, with the total: ``requested`` ones by due
    date (overdue first, those without a date last), or the answered and declined ones, newest first."""
    ids = department_ids(user)
    if not ids:
        return [], 0
    where = [
        Statement.department_id.in_(ids),
        Statement.status == REQUESTED if status == REQUESTED else Statement.status != REQUESTED,
    ]
    order = (
        (Statement.due_at.asc().nulls_last(), Statement.id)
        if status == REQUESTED
        else (Statement.answered_at.desc(), Statement.id.desc())
    )
    total = db.session.scalar(select(func.count()).select_from(Statement).where(*where))
    items = db.session.scalars(
        select(Statement)
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
        .options(selectinload(Statement.recommendation).selectinload(Recommendation.process))
    ).all()
    return list(items), total or 0


# -- answers, sessions and follow-up ------------------------------------------------------


def answer_template(
    process: Any, state: str, locale: str | None, default_locale: str | None, own_templates: dict[str, str] | None = None
) -> str:
    """The text that prefills the justification of a decision into ``state``: the process's own
    template, else the workflow file's ``answer_template``, else nothing. ``own_templates``: the
    process's templates read once already (``answer_templates``), for a page with many forms."""
    own = (
        own_templates.get(state)
        if own_templates is not None
        else db.session.scalar(
            select(AnswerTemplate.body).where(AnswerTemplate.process_id == process.id, AnswerTemplate.state == state)
        )
    )
    if own is not None:
        return own
    definition = engine().get(process.workflow_id).states.get(state)
    template = definition.answer_template if definition is not None else None
    return template.text(locale, default_locale) if template is not None else ""


def answer_templates(process: Any) -> dict[str, str]:
    """The process's own templates, by state."""
    return dict(
        db.session.execute(select(AnswerTemplate.state, AnswerTemplate.body).where(AnswerTemplate.process_id == process.id)).all()
    )


def ready_for_agenda(process: Any, exclude_session: int | None = None, limit: int = 200) -> list[int]:
    """Recommendations of ``process`` that wait for the steering round's decision with no statement
    open, by number; without those on the agenda of ``exclude_session``, and without those waiting
    on another open session's agenda (one session decides each)."""
    states = permissions.deciding_states(engine().get(process.workflow_id))
    if not states or limit <= 0:
        return []
    query = select(Recommendation.id).where(
        Recommendation.process_id == process.id,
        Recommendation.state.in_(states),
        ~exists().where(Statement.recommendation_id == Recommendation.id, Statement.status == REQUESTED),
        ~exists().where(
            AgendaItem.recommendation_id == Recommendation.id,
            AgendaItem.result_state.is_(None),
            AgendaItem.session_id == SteeringSession.id,
            SteeringSession.status == OPEN,
        ),
    )
    if exclude_session is not None:
        query = query.where(
            ~exists().where(AgendaItem.session_id == exclude_session, AgendaItem.recommendation_id == Recommendation.id)
        )
    return list(db.session.scalars(query.order_by(Recommendation.number).limit(limit)))


def waiting_for_decision(process: Any, exclude_session: int | None = None, limit: int = 200) -> list[Recommendation]:
    """Recommendations of ``process`` in a deciding state, by number, not on ``exclude_session``'s agenda."""
    states = permissions.deciding_states(engine().get(process.workflow_id))
    if not states:
        return []
    query = select(Recommendation).where(Recommendation.process_id == process.id, Recommendation.state.in_(states))
    if exclude_session is not None:
        query = query.where(
            ~exists().where(AgendaItem.session_id == exclude_session, AgendaItem.recommendation_id == Recommendation.id)
        )
    return list(db.session.scalars(query.order_by(Recommendation.number).limit(limit)))


def sessions_of(process_id: int, offset: int = 0, limit: int = 50) -> tuple[list[SteeringSession], int]:
    """A process's sessions, the latest first, with their total."""
    where = SteeringSession.process_id == process_id
    total = db.session.scalar(select(func.count()).select_from(SteeringSession).where(where))
    items = db.session.scalars(
        select(SteeringSession)
        .where(where)
        .order_by(SteeringSession.held_at.desc(), SteeringSession.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(items), total or 0


def session_items(session_id: int) -> list[AgendaItem]:
    """A session's agenda in order, with each recommendation, its process and decision loaded."""
    return list(
        db.session.scalars(
            select(AgendaItem)
            .where(AgendaItem.session_id == session_id)
            .order_by(AgendaItem.position)
            .options(
                selectinload(AgendaItem.recommendation).selectinload(Recommendation.process),
                selectinload(AgendaItem.recommendation).selectinload(Recommendation.author_links),
                selectinload(AgendaItem.recommendation).selectinload(Recommendation.decision),
            )
        )
    )


def public_statements(recommendation_ids: Sequence[int]) -> dict[int, list[Statement]]:
    """The public answered statements on each of the recommendations: what a decision rests on."""
    found: dict[int, list[Statement]] = {rid: [] for rid in recommendation_ids}
    if not recommendation_ids:
        return found
    for statement in db.session.scalars(
        select(Statement)
        .where(
            Statement.recommendation_id.in_(list(recommendation_ids)),
            Statement.status == ANSWERED,
            Statement.visibility == "public",
        )
        .order_by(Statement.id)
    ):
        found[statement.recommendation_id].append(statement)
    return found


def open_statement_departments_of(recommendation_ids: Sequence[int]) -> dict[int, list[str]]:
    """``open_statement_departments`` for many recommendations in one query."""
    found: dict[int, list[str]] = {rid: [] for rid in recommendation_ids}
    if recommendation_ids:
        for rid, name in db.session.execute(
            select(Statement.recommendation_id, Department.name)
            .join(Department, Statement.department_id == Department.id)
            .where(Statement.recommendation_id.in_(list(recommendation_ids)), Statement.status == REQUESTED)
            .order_by(Department.name)
        ):
            found[rid].append(name)
    return found


def follow_ups_of(recommendation_id: int) -> list[FollowUp]:
    """The implementation reports on a recommendation, newest first."""
    return list(
        db.session.scalars(select(FollowUp).where(FollowUp.recommendation_id == recommendation_id).order_by(FollowUp.id.desc()))
    )


def overdue_follow_ups(condition: ColumnElement[bool], now: datetime, limit: int = 50) -> list[tuple[Recommendation, FollowUp]]:
    """Recommendations (among those ``condition`` lets through) whose latest implementation report
    named a date for the next one that has passed, the longest overdue first."""
    latest = select(FollowUp.recommendation_id, func.max(FollowUp.id).label("id")).group_by(FollowUp.recommendation_id).subquery()
    rows = db.session.execute(
        select(Recommendation, FollowUp)
        .join(latest, latest.c.recommendation_id == Recommendation.id)
        .join(FollowUp, FollowUp.id == latest.c.id)
        .where(condition, FollowUp.next_due_at < now, FollowUp.status != "done")
        .order_by(FollowUp.next_due_at)
        .limit(limit)
        .options(selectinload(Recommendation.process))
    ).all()
    return [(row[0], row[1]) for row in rows]


def processes(status: str | None = None) -> list[Process]:
    """Every process, for the overview of procedures (listed to everyone), optionally of one status:
    running first, then planned, then finished, each by title."""
    order = case({"running": 0, "planned": 1, "finished": 2}, value=Process.status, else_=3)
    query = select(Process).order_by(order, Process.title, Process.id)
    if status is not None:
        query = query.where(Process.status == status)
    return list(db.session.scalars(query))


def names_of(user_ids: set[int]) -> dict[int, str]:
    """People's names by id, in one query (an erased person's is the placeholder erasure left)."""
    if not user_ids:
        return {}
    return {user_id: name for user_id, name in db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))}
