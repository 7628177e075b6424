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
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import accumulate
from typing import Any, ClassVar, Sequence

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from . import audit, permissions
from .roles import process_roles, remember_roles, user_id
from .extensions import db
from .models import (
    COUNT_BLOCK,
    AuditEvent,
    Comment,
    CommentReport,
    Decision,
    Membership,
    Process,
    Recommendation,
    RecommendationAuthor,
    RecommendationCount,
    User,
)
from .workflow import engine


def visible(user: Any, process: Process, roles: frozenset[str] | None = None) -> ColumnElement[bool]:
    """A condition true for the recommendations of ``process`` that ``user`` may see."""
    roles = process_roles(user, process.id) if roles is None else roles
    by_role, by_authorship = permissions.visible_states(roles, engine().get(process.workflow_id))
    condition = Recommendation.state.in_(by_role)
    uid = user_id(user)
    if uid is not None and by_authorship:
        authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == uid)
        condition = or_(condition, and_(Recommendation.state.in_(by_authorship), Recommendation.id.in_(authored)))
    return and_(Recommendation.process_id == process.id, condition)


#: How many visible recommendations lie in each (state, block of numbers).
Counts = dict[tuple[str, int], int]


def visible_counts(user: Any, process: Process, roles: frozenset[str] | None = None) -> Counts:
    """What ``user`` may see of ``process``, counted per (state, block): the same set as ``visible``."""
    roles = process_roles(user, process.id) if roles is None else roles
    by_role, by_authorship = permissions.visible_states(roles, engine().get(process.workflow_id))
    counts: Counter[tuple[str, int]] = Counter()
    if by_role:
        for state, block, count in db.session.execute(
            select(RecommendationCount.state, RecommendationCount.block, RecommendationCount.count)
            .where(RecommendationCount.process_id == process.id, RecommendationCount.state.in_(by_role))
        ):
            counts[(state, block)] += count
    uid = user_id(user)
    if uid is not None and by_authorship:  # a person's own drafts: few, counted one by one
        for state, number in db.session.execute(
            select(Recommendation.state, Recommendation.number).join(RecommendationAuthor)
            .where(Recommendation.process_id == process.id, Recommendation.state.in_(by_authorship),
                   RecommendationAuthor.user_id == uid)
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


def visible_page(user: Any, process: Process, roles: frozenset[str], counts: Counts, state: str | None,
                 offset: int, limit: int, descending: bool = False, options: Sequence[Any] = ()) -> list[Recommendation]:
    """Rows ``offset`` to ``offset + limit`` of what ``user`` may see (in ``state``, if given), by number.

    ``counts`` (from ``visible_counts``) says in which blocks of numbers those rows lie, so the
    database reads only those blocks, however long the list: no OFFSET over the rows before.
    """
    per_block: Counter[int] = Counter()
    for (in_state, block), count in counts.items():
        if state is None or in_state == state:
            per_block[block] += count
    before, first, last, reached = 0, None, None, 0
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
    condition = and_(visible(user, process, roles), Recommendation.number > low * COUNT_BLOCK,
                     Recommendation.number <= (high + 1) * COUNT_BLOCK)
    if state is not None:
        condition = and_(condition, Recommendation.state == state)
    order = Recommendation.number.desc() if descending else Recommendation.number.asc()
    return db.session.scalars(
        select(Recommendation).where(condition).order_by(order).offset(offset - before).limit(limit).options(*options)
    ).all()


def events_of(recommendation_id: int) -> list[AuditEvent]:
    """What the audit trail holds about a recommendation, its comments and their reports, oldest first."""
    comment_ids = select(Comment.id).where(Comment.recommendation_id == recommendation_id)
    report_ids = select(CommentReport.id).where(CommentReport.comment_id.in_(comment_ids))
    return db.session.scalars(select(AuditEvent).where(or_(
        and_(AuditEvent.subject_type == "recommendation", AuditEvent.subject_id == recommendation_id),
        and_(AuditEvent.subject_type == "comment", AuditEvent.subject_id.in_(comment_ids)),
        and_(AuditEvent.subject_type == "comment_report", AuditEvent.subject_id.in_(report_ids)),
    )).order_by(AuditEvent.seq)).all()


def process_events(process_id: int):
    """The audit events about a process's recommendations and comments, oldest first, streamed."""
    rec_ids = select(Recommendation.id).where(Recommendation.process_id == process_id)
    comment_ids = select(Comment.id).where(Comment.recommendation_id.in_(rec_ids))
    return audit.stream(or_(
        and_(AuditEvent.subject_type == "recommendation", AuditEvent.subject_id.in_(rec_ids)),
        and_(AuditEvent.subject_type == "comment", AuditEvent.subject_id.in_(comment_ids)),
    ))


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
        select(*_VIEW_COLUMNS, User.name).join(User, User.id == Comment.author_id)
        .where(Comment.recommendation_id == recommendation_id).order_by(Comment.id)
    )
    return [CommentView(*row[:-1], authors.setdefault(row.author_id, Author(row.author_id, row[-1]))) for row in rows]


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
    m = Membership.__table__
    own = [r.c.id, r.c.process_id, p.c.slug, p.c.workflow_id, r.c.number, r.c.title, r.c.body, r.c.body_html,
           r.c.state, r.c.version, r.c.state_entered_at, r.c.created_at, r.c.updated_at, r.c.due_at]
    groups = [own, [a.c.user_id, author.c.name],
              [d.c.outcome, d.c.state, d.c.note, d.c.decided_by_id, decider.c.name, d.c.decided_at],
              [exists().where(m.c.process_id == r.c.process_id, m.c.user_id == bindparam("user_id"), m.c.role == role)
               for role in permissions.PROCESS_ROLES]]
    statement = (
        select(*(column for group in groups for column in group))
        .join(p, p.c.id == r.c.process_id)
        .outerjoin(a, a.c.recommendation_id == r.c.id).outerjoin(author, author.c.id == a.c.user_id)
        .outerjoin(d, d.c.recommendation_id == r.c.id).outerjoin(decider, decider.c.id == d.c.decided_by_id)
        .where(r.c.id == bindparam("id")).order_by(a.c.position)
    )
    ends = list(accumulate(map(len, groups)))
    return statement, *(slice(start, end) for start, end in zip([0, *ends], ends))


_RECOMMENDATION_VIEW, _OWN, _AUTHOR, _DECISION, _ROLES = _recommendation_view_statement()


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
    remember_roles(user, first.process_id,
                               {role for role, held in zip(permissions.PROCESS_ROLES, first[_ROLES]) if held})
    return RecommendationView(*first[_OWN], authors, decision)
