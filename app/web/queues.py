"""Work queues: my recommendations, what waits for moderation, what waits for the steering round.

A recommendation waits for a role when its state has a transition that role may
fire: the queues follow the workflow files, whatever their states are called, each
process by its own workflow. A recommendation its reader wrote waits for someone
else (its authors fire only transitions open to ``author``), so it is not in their
moderation or steering queue. Each item is named by its workflow's noun.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from .. import queries
from ..extensions import db
from ..models import Category, Comment, CommentReport, Department, Membership, Process, Recommendation, RecommendationAuthor
from ..workflow import engine
from . import bp
from .common import signed_in


def waiting_for(role: str) -> tuple[list[Process], object]:
    """The processes where the current user holds ``role``, and a condition for what waits for it there."""
    processes = db.session.scalars(
        select(Process)
        .join(Membership, Membership.process_id == Process.id)
        .where(Membership.user_id == current_user.id, Membership.role == role)
        .order_by(Process.title)
    ).all()
    conditions = []
    for process in processes:
        workflow = engine().get(process.workflow_id)
        states = [name for name in workflow.states if any(role in t.roles for t in workflow.outgoing(name))]
        conditions.append(and_(queries.visible(current_user, process), Recommendation.state.in_(states)))
    authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == current_user.id)
    return list(processes), and_(or_(False, *conditions), Recommendation.id.not_in(authored))


def _recommendations(condition, *order):
    return db.session.scalars(
        select(Recommendation)
        .where(condition)
        .order_by(*order, Recommendation.id)
        .limit(200)
        .options(selectinload(Recommendation.process), selectinload(Recommendation.author_links))
    ).all()


def _workflows(items) -> dict:
    return {rec.process_id: engine().get(rec.process.workflow_id) for rec in items}


@bp.get("/my")
@signed_in
def my_recommendations():
    authored = select(RecommendationAuthor.recommendation_id).where(RecommendationAuthor.user_id == current_user.id)
    items = _recommendations(Recommendation.id.in_(authored), Recommendation.updated_at.desc())
    return render_template("queues/mine.html", items=items, workflows=_workflows(items))


@bp.get("/moderation")
@signed_in
def moderation_queue():
    processes, condition = waiting_for("moderator")
    items = _recommendations(condition, Recommendation.state_entered_at) if processes else []
    reports = (
        db.session.scalars(
            select(CommentReport)
            .join(Comment, Comment.id == CommentReport.comment_id)
            .join(Recommendation, Recommendation.id == Comment.recommendation_id)
            .where(CommentReport.resolved_at.is_(None), Recommendation.process_id.in_([p.id for p in processes]))
            .order_by(CommentReport.created_at)
            .options(
                selectinload(CommentReport.comment).selectinload(Comment.recommendation).selectinload(Recommendation.process)
            )
        ).all()
        if processes
        else []
    )
    routed = _routed_to_moderators(processes)
    return render_template(
        "queues/moderation.html",
        processes=processes,
        items=items,
        reports=reports,
        routed=routed,
        workflows=_workflows([*items, *routed]),
    )


def _routed_to_moderators(processes: list[Process]) -> list[Recommendation]:
    """Items whose category routes to no active department, in a state that takes statements: they
    fall back to the process's moderators (app/services/categories.py)."""
    conditions = []
    for process in processes:
        workflow = engine().get(process.workflow_id)
        states = [name for name, state in workflow.states.items() if state.statements is not None]
        if states:
            conditions.append(and_(queries.visible(current_user, process), Recommendation.state.in_(states)))
    if not conditions:
        return []
    unrouted = (
        select(Category.id)
        .outerjoin(Department, Department.id == Category.department_id)
        .where(or_(Category.department_id.is_(None), Department.active.is_(False)))
    )
    return list(
        _recommendations(and_(or_(*conditions), Recommendation.category_id.in_(unrouted)), Recommendation.state_entered_at)
    )


@bp.get("/steering")
@signed_in
def steering_queue():
    processes, condition = waiting_for("administrator")
    items = (
        _recommendations(condition, Recommendation.due_at.asc().nulls_last(), Recommendation.state_entered_at)
        if processes
        else []
    )
    return render_template("queues/steering.html", processes=processes, items=items, workflows=_workflows(items))
