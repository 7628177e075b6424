"""Categories of a process, each routed to a department, and the routing itself.

A process's administrators (or a superuser) define categories; an item filed under one is routed
to the category's department: when it enters a state that takes statements (``statements`` in
its workflow), a statement is requested from that department, in the transition's own
transaction and recorded in the transition's event (``routed``). A category whose department is
deactivated, or that names none, falls back to the process's moderators: no statement is asked
for, the moderators are told (``your_turn``) and find the item in their queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit
from ..errors import Forbidden, NotFound, ValidationError
from ..extensions import db
from ..models import REQUESTED, Category, Department, Process, Statement, User, utcnow
from ..roles import process_roles
from ..transactions import write_transaction
from ..workflow.definition import Workflow
from . import notifications
from .validation import NAME_MAX, SLUG, clean_text, require_superuser

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def _may_manage(actor: Any, process: Process) -> None:
    """Administrators of the process and superusers (``actor`` None: the operator at the CLI)."""
    if actor is None:
        return
    if not getattr(actor, "is_authenticated", True):
        raise Forbidden(_("only administrators of the process and superusers manage its categories"))
    if actor.is_superuser or "administrator" in process_roles(actor, process.id):
        return
    raise Forbidden(_("only administrators of the process and superusers manage its categories"))


def _department(slug: Any, session) -> Department | None:
    if slug is None or slug == "":
        return None
    department = session.scalars(select(Department).where(Department.slug == slug)).first() if isinstance(slug, str) else None
    if department is None:
        raise ValidationError(_("there is no department '%(slug)s'", slug=slug))
    if not department.active:
        raise ValidationError(_("the department '%(slug)s' is deactivated", slug=slug))
    return department


def categories(process_id: int) -> list[Category]:
    return list(db.session.scalars(select(Category).where(Category.process_id == process_id).order_by(Category.name)))


def find_category(process_id: int, slug: Any) -> Category:
    category = (
        db.session.scalars(select(Category).where(Category.process_id == process_id, Category.slug == slug)).first()
        if isinstance(slug, str)
        else None
    )
    if category is None:
        raise NotFound(_("there is no category '%(slug)s'", slug=slug))
    return category


def category_for(process_id: int, slug: Any) -> int | None:
    """The id of the process's category ``slug`` for an item (None for no category); 422 if unknown."""
    if slug is None or slug == "":
        return None
    category = (
        db.session.scalars(select(Category).where(Category.process_id == process_id, Category.slug == slug)).first()
        if isinstance(slug, str)
        else None
    )
    if category is None:
        raise ValidationError(_("there is no category '%(slug)s' in this process", slug=slug), field="category")
    return category.id


def create_category(process: Process, slug: Any, name: Any, department: Any, actor: User | None) -> Category:
    slug = clean_text(slug, "slug", 100)
    if not SLUG.match(slug):
        raise ValidationError(_("'%(slug)s' is not a usable slug (lower-case letters, digits and '-')", slug=slug))
    name = clean_text(name, "name", NAME_MAX)
    with write_transaction() as session:
        _may_manage(actor, process)
        target = _department(department, session)
        if session.scalars(select(Category).where(Category.process_id == process.id, Category.slug == slug)).first():
            raise ValidationError(_("a category with the slug '%(slug)s' exists already", slug=slug))
        category = Category(process_id=process.id, slug=slug, name=name, department=target)
        session.add(category)
        audit.record(
            "category.created",
            category,
            actor,
            {"process": process.slug, "slug": slug, "name": name, "department": target.slug if target else None},
        )
    return category


def update_category(category: Category, actor: User | None, name: Any = None, department: Any = ...) -> Category:
    """Rename a category and/or route it elsewhere (``department`` None or "": to nobody, i.e. the
    moderators). Saving what is there already records nothing."""
    with write_transaction() as session:
        process = session.get(Process, category.process_id)
        assert process is not None
        _may_manage(actor, process)
        category = session.scalars(
            select(Category)
            .where(Category.id == category.id)
            .execution_options(populate_existing=True)
            .with_for_update(of=Category)
        ).one()
        changes: dict[str, list] = {}
        if name is not None:
            name = clean_text(name, "name", NAME_MAX)
            if name != category.name:
                changes["name"] = [category.name, name]
                category.name = name
        old_slug = category.department.slug if category.department else None
        if department is not ... and (department or None) != old_slug:  # keeping a deactivated one is no change
            target = _department(department, session)
            old = old_slug
            new = target.slug if target else None
            if old != new:
                changes["department"] = [old, new]
                category.department = target
        if changes:
            audit.record("category.updated", category, actor, {"changes": changes})
    return category


def route(session, rec: Any, workflow: Workflow, state: str, actor: Any) -> dict | None:
    """Inside a transition's (or creation's) transaction: route ``rec``, filed under a category,
    that now is in ``state``. Returns what the event records as ``routed``, or None (no category,
    or the state takes no statements)."""
    settings = workflow.states[state].statements
    if settings is None or rec.category_id is None:
        return None
    category = session.get(Category, rec.category_id)
    if category is None:
        return None
    department = category.routed_department
    if department is None:
        notifications.on_routed_to_moderators(session, rec, workflow, state, actor)
        return {"category": category.slug, "to": "moderators"}
    open_request = session.scalars(
        select(Statement.id).where(
            Statement.recommendation_id == rec.id, Statement.department_id == department.id, Statement.status == REQUESTED
        )
    ).first()
    if open_request is not None:
        return {"category": category.slug, "to": department.slug, "statement_id": open_request}
    now = utcnow()
    statement = Statement(
        recommendation_id=rec.id,
        department=department,
        question=None,
        status=REQUESTED,
        requested_by_id=actor.id,
        requested_at=now,
        visibility="public",
        due_at=now + timedelta(days=settings.due_days) if settings.due_days else None,
    )
    session.add(statement)
    session.flush()
    notifications.on_statement_requested(session, statement, rec, workflow, actor)
    return {
        "category": category.slug,
        "to": department.slug,
        "statement_id": statement.id,
        "due_at": statement.due_at.strftime(ISO) if statement.due_at else None,
    }


def set_department_active(department: Department, active: bool, actor: User | None) -> bool:
    """Deactivate (or reactivate) a department; False when it is so already. A deactivated
    department is asked nothing new: its categories fall back to the moderators."""
    with write_transaction() as session:
        require_superuser(actor)
        department = session.scalars(
            select(Department).where(Department.id == department.id).execution_options(populate_existing=True)
        ).one()
        if department.active == active:
            return False
        department.active = active
        audit.record("department.activated" if active else "department.deactivated", department, actor, {"slug": department.slug})
    return True


def may_manage(actor: Any, process: Process) -> bool:
    try:
        _may_manage(actor, process)
    except Forbidden:
        return False
    return True
