"""Departments (Fachbereiche), their members, and the statements they are asked for.

A statement is requested on a recommendation, in a state whose workflow definition takes
statements, by someone holding a role in its ``requested_by``; the asked department's members
answer it (publicly or internally) or decline it with a reason. Every write appends one audit
event in its own transaction, as everywhere in ``app.services``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..extensions import db
from ..models import (
    ANSWERED,
    DECLINED,
    REQUESTED,
    VISIBILITIES,
    Department,
    DepartmentMember,
    Recommendation,
    Statement,
    User,
    utcnow,
)
from ..roles import department_ids, forget_roles
from ..transactions import write_transaction
from ..workflow.definition import Workflow
from . import notifications
from .recommendations import recommendation_for_change
from .validation import BODY_MAX, NAME_MAX, NOTE_MAX, SLUG, clean_text, render_ahead, require_superuser

STATEMENT_MAX = BODY_MAX  # a statement may be as long as the recommendation it answers
QUESTION_MAX = NOTE_MAX
#: Longer than any sensible deadline, short enough that no date overflows.
DUE_DAYS_MAX = 3650


# -- departments -----------------------------------------------------------------------


def create_department(slug: Any, name: Any, actor: User | None = None) -> Department:
    slug = clean_text(slug, "slug", 100)
    if not SLUG.match(slug):
        raise ValidationError(_("'%(slug)s' is not a usable slug (lower-case letters, digits and '-')", slug=slug))
    name = clean_text(name, "name", NAME_MAX)
    with write_transaction() as session:
        require_superuser(actor)
        if session.scalars(select(Department).where(Department.slug == slug)).first():
            raise ValidationError(_("a department with the slug '%(slug)s' exists already", slug=slug))
        department = Department(slug=slug, name=name)
        session.add(department)
        audit.record("department.created", department, actor, {"slug": slug, "name": name})
    return department


def find_department(slug: Any) -> Department:
    department = db.session.scalars(select(Department).where(Department.slug == slug)).first() if isinstance(slug, str) else None
    if department is None:
        raise NotFound(_("there is no department '%(slug)s'", slug=slug))
    return department


def add_department_member(department: Department, user: User, actor: User | None = None) -> bool:
    """Make ``user`` a member of ``department``; False when they are one already (nothing changes)."""
    with write_transaction() as session:
        require_superuser(actor)
        exists = session.scalars(
            select(DepartmentMember).where(DepartmentMember.department_id == department.id, DepartmentMember.user_id == user.id)
        ).first()
        if exists:
            return False
        member = DepartmentMember(department_id=department.id, user_id=user.id)
        session.add(member)
        audit.record("department.member_added", member, actor, {"department": department.slug, "user_id": user.id})
    forget_roles()
    return True


def remove_department_member(department: Department, user: User, actor: User | None = None) -> bool:
    """End ``user``'s membership of ``department``; False when they were no member."""
    with write_transaction() as session:
        require_superuser(actor)
        member = session.scalars(
            select(DepartmentMember).where(DepartmentMember.department_id == department.id, DepartmentMember.user_id == user.id)
        ).first()
        if member is None:
            return False
        audit.record("department.member_removed", member, actor, {"department": department.slug, "user_id": user.id})
        session.delete(member)
    forget_roles()
    return True


# -- statements ------------------------------------------------------------------------


def _due_days(value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(_("due_days must be a whole number of days"))
    if value < 1:
        raise ValidationError(_("due_days must be at least 1: the answer cannot be due today or in the past"))
    if value > DUE_DAYS_MAX:
        raise ValidationError(_("due_days must be at most %(max)s", max=DUE_DAYS_MAX))
    return value


def request_statement(
    recommendation_id: int, actor: User, department: Any, question: Any = None, due_days: Any = None
) -> Statement:
    """Ask a department for a statement. Checks: visible (404), ``requested_by`` (403), then 422 when
    the state takes no statements, the department is unknown or already has an open request here,
    or ``due_days`` is not a whole number of days from tomorrow on."""
    with write_transaction() as session:
        rec, workflow, roles = recommendation_for_change(recommendation_id, actor)
        settings = workflow.states[rec.state].statements
        if settings is None:
            raise ValidationError(_("no statements are asked for in state '%(state)s'", state=rec.state))
        if not permissions.can_request_statement(roles, workflow, rec.state):
            raise Forbidden(
                _("asking departments for statements needs one of the roles: %(roles)s", roles=", ".join(settings.requested_by))
            )
        target = (
            session.scalars(select(Department).where(Department.slug == department)).first()
            if isinstance(department, str)
            else None
        )
        if target is None:
            raise ValidationError(_("there is no department '%(slug)s'", slug=department))
        if not target.active:  # nobody would answer, and the decision would wait for it for good
            raise ValidationError(_("%(name)s is deactivated and is asked nothing new", name=target.name))
        question = clean_text(question, "question", QUESTION_MAX, required=False)
        days = _due_days(due_days, settings.due_days)
        if (
            session.scalars(
                select(Statement.id).where(
                    Statement.recommendation_id == rec.id, Statement.department_id == target.id, Statement.status == REQUESTED
                )
            ).first()
            is not None
        ):
            raise ValidationError(_("%(name)s has an open request on this recommendation already", name=target.name))
        now = utcnow()
        statement = Statement(
            recommendation_id=rec.id,
            department=target,
            question=question,
            status=REQUESTED,
            requested_by_id=actor.id,
            requested_at=now,
            visibility="public",
            due_at=now + timedelta(days=days) if days else None,
        )
        session.add(statement)
        audit.record(
            "statement.requested",
            statement,
            actor,
            {
                "department": target.slug,
                "question": question,
                "due_at": statement.due_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if statement.due_at else None,
            },
        )
        notifications.on_statement_requested(session, statement, rec, workflow, actor)
    forget_roles()  # the department's members now hold the department role here
    return statement


def _statement_for_change(statement_id: int, actor: User) -> tuple[Statement, Recommendation, Workflow]:
    """Load and lock a statement; 404 unless the actor may see its recommendation, 403 unless they are
    a member of the asked department, 409 unless it is still open."""
    statement = db.session.scalars(
        select(Statement)
        .where(Statement.id == statement_id)
        .execution_options(populate_existing=True)
        .with_for_update(of=Statement)
    ).first()
    if statement is None:
        raise NotFound(_("there is no statement %(id)s", id=statement_id))
    rec, workflow, roles = recommendation_for_change(statement.recommendation_id, actor)
    in_department = statement.department_id in department_ids(actor)
    if not permissions.can_read_statement(roles, statement, in_department):
        raise NotFound(_("there is no statement %(id)s", id=statement_id))
    if not permissions.can_answer_statement(in_department):
        raise Forbidden(_("only members of %(name)s answer this request", name=statement.department.name))
    if statement.status != REQUESTED:
        raise Conflict(
            _("this request is answered already") if statement.status == ANSWERED else _("this request was declined already")
        )
    return statement, rec, workflow


def answer_statement(statement_id: int, actor: User, body: Any, visibility: Any = "public") -> Statement:
    """A department member answers a request; the first answer wins, any later one is a 409."""
    body_html = render_ahead(body, STATEMENT_MAX)
    with write_transaction() as session:
        statement, rec, workflow = _statement_for_change(statement_id, actor)
        if visibility not in VISIBILITIES:
            raise ValidationError(_("visibility must be 'public' or 'internal'"))
        body = clean_text(body, "body", STATEMENT_MAX)
        statement.status, statement.body, statement.body_html = ANSWERED, body, body_html
        statement.visibility, statement.answered_at = visibility, utcnow()
        statement.answered_by = db.session.get(User, actor.id)
        audit.record("statement.answered", statement, actor, {"body": body, "visibility": visibility})
        notifications.on_statement_given(session, statement, rec, workflow, actor)
    return statement


def decline_statement(statement_id: int, actor: User, reason: Any) -> Statement:
    """A department member declines a request, saying why; the reason is public like the request."""
    with write_transaction() as session:
        statement, rec, workflow = _statement_for_change(statement_id, actor)
        reason = clean_text(reason, "reason", NOTE_MAX)
        statement.status, statement.reason = DECLINED, reason
        statement.answered_by, statement.answered_at = db.session.get(User, actor.id), utcnow()
        audit.record("statement.declined", statement, actor, {"reason": reason})
        notifications.on_statement_given(session, statement, rec, workflow, actor)
    return statement
