"""Participation processes and the roles people hold in them."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions
from ..errors import Forbidden, NotFound, ValidationError
from ..extensions import db
from ..models import AnswerTemplate, Membership, Process, User, utcnow
from ..roles import forget_roles, process_roles
from ..transactions import write_transaction
from ..workflow import engine
from .validation import SLUG, TITLE_MAX, clean_text, require_superuser


def create_process(slug: str, title: str, workflow_id: str, actor: User | None = None) -> Process:
    slug = clean_text(slug, "slug", 100)
    if not SLUG.match(slug):
        raise ValidationError(_("'%(slug)s' is not a usable slug (lower-case letters, digits and '-')", slug=slug))
    title = clean_text(title, "title", TITLE_MAX)
    if workflow_id not in engine().workflows:
        raise ValidationError(
            _("there is no workflow '%(id)s' (known: %(known)s)", id=workflow_id, known=", ".join(sorted(engine().workflows)))
        )
    with write_transaction() as session:
        require_superuser(actor)
        if session.scalars(select(Process).where(Process.slug == slug)).first():
            raise ValidationError(_("a process with the slug '%(slug)s' exists already", slug=slug))
        process = Process(slug=slug, title=title, workflow_id=workflow_id)
        session.add(process)
        audit.record("process.created", process, actor, {"slug": slug, "title": title, "workflow": workflow_id})
    return process


def find_process(slug: str) -> Process:
    process = db.session.scalars(select(Process).where(Process.slug == slug)).first()
    if process is None:
        raise NotFound(_("there is no process '%(slug)s'", slug=slug))
    return process


def grant_role(process: Process, user: User, role: str, actor: User | None = None) -> bool:
    """Give ``user`` a role in ``process``; False when they hold it already (nothing changes)."""
    if role not in permissions.PROCESS_ROLES:
        raise ValidationError(_("unknown role '%(role)s' (known: %(known)s)", role=role, known=", ".join(permissions.PROCESS_ROLES)))
    with write_transaction() as session:
        require_superuser(actor)
        exists = session.scalars(select(Membership).where(
            Membership.user_id == user.id, Membership.process_id == process.id, Membership.role == role)).first()
        if exists:
            return False
        membership = Membership(user_id=user.id, process_id=process.id, role=role)
        session.add(membership)
        audit.record("membership.granted", membership, actor,
                     {"user_id": user.id, "process": process.slug, "role": role})
    forget_roles()
    return True


def revoke_role(process: Process, user: User, role: str, actor: User | None = None) -> bool:
    """Take a role in ``process`` from ``user``; False when they did not hold it."""
    with write_transaction() as session:
        require_superuser(actor)
        membership = session.scalars(select(Membership).where(
            Membership.user_id == user.id, Membership.process_id == process.id, Membership.role == role)).first()
        if membership is None:
            return False
        audit.record("membership.revoked", membership, actor,
                     {"user_id": user.id, "process": process.slug, "role": role})
        session.delete(membership)
    forget_roles()
    return True


ANSWER_TEMPLATE_MAX = 10_000


def set_answer_template(process_id: int, actor: User, state: Any, body: Any) -> bool:
    """A process's own answer template for decisions into the final state ``state`` (its
    administrators only); a blank body goes back to the workflow file's. False: nothing changed."""
    with write_transaction() as session:
        process = session.get(Process, process_id)
        if process is None:
            raise NotFound(_("there is no process %(id)s", id=process_id))
        if not permissions.can_manage_sessions(process_roles(actor, process.id)):
            raise Forbidden(_("only the process's administrators edit its answer templates"))
        workflow = engine().get(process.workflow_id)
        if not isinstance(state, str) or state not in workflow.states or not workflow.states[state].final:
            raise ValidationError(_("answer templates belong to the workflow's final states"))
        body = clean_text(body, "body", ANSWER_TEMPLATE_MAX, required=False)
        row = session.scalars(select(AnswerTemplate).where(AnswerTemplate.process_id == process.id,
                                                           AnswerTemplate.state == state)).first()
        if (row.body if row else None) == body:
            return False
        if body is None:
            session.delete(row)
        elif row is None:
            session.add(AnswerTemplate(process_id=process.id, state=state, body=body, updated_at=utcnow()))
        else:
            row.body, row.updated_at = body, utcnow()
        audit.record("process.answer_template_set", process, actor, {"state": state, "body": body})
    return True
