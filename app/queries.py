"""Reading many recommendations at once, filtered in the database by what the reader may see.

The list endpoints of the API and every list page build on ``visible``: one
definition of visibility for lists, derived from the same predicates as
``app.permissions``.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from . import permissions
from .extensions import db
from .models import AuditEvent, Comment, CommentReport, Process, Recommendation, RecommendationAuthor
from .workflow import engine


def visible(user: Any, process: Process, roles: frozenset[str] | None = None) -> ColumnElement[bool]:
    """A condition true for the recommendations of ``process`` that ``user`` may see."""
    roles = permissions.process_roles(user, process.id) if roles is None else roles
    by_role, by_authorship = permissions.visible_states(roles, engine().get(process.workflow_id))
    condition = Recommendation.state.in_(by_role)
    uid = permissions.user_id(user)
    if uid is not None and by_authorship:
        authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == uid)
        condition = or_(condition, and_(Recommendation.state.in_(by_authorship), Recommendation.id.in_(authored)))
    return and_(Recommendation.process_id == process.id, condition)


def counts_by_state(condition: ColumnElement[bool]) -> dict[str, int]:
    rows = db.session.execute(
        select(Recommendation.state, func.count()).where(condition).group_by(Recommendation.state)
    ).all()
    return {state: count for state, count in rows}


def events_of(recommendation_id: int) -> list[AuditEvent]:
    """What the audit trail holds about a recommendation, its comments and their reports, oldest first."""
    comment_ids = select(Comment.id).where(Comment.recommendation_id == recommendation_id)
    report_ids = select(CommentReport.id).where(CommentReport.comment_id.in_(comment_ids))
    return db.session.scalars(select(AuditEvent).where(or_(
        and_(AuditEvent.subject_type == "recommendation", AuditEvent.subject_id == recommendation_id),
        and_(AuditEvent.subject_type == "comment", AuditEvent.subject_id.in_(comment_ids)),
        and_(AuditEvent.subject_type == "comment_report", AuditEvent.subject_id.in_(report_ids)),
    )).order_by(AuditEvent.seq)).all()


def comments_of(recommendation_id: int) -> list[Comment]:
    """Every comment of a recommendation, oldest first, with its author."""
    return db.session.scalars(
        select(Comment).where(Comment.recommendation_id == recommendation_id).order_by(Comment.id)
    ).all()
