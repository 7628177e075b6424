"""Participation processes and the roles people hold in them."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import Membership, Process, User
from ..roles import forget_roles
from ..transactions import add_unique, write_transaction
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
        exists = ValidationError(_("a process with the slug '%(slug)s' exists already", slug=slug))
        if session.scalars(select(Process).where(Process.slug == slug)).first():
            raise exists
        process = Process(slug=slug, title=title, workflow_id=workflow_id)
        if not add_unique(session, process):  # created by a simultaneous request since the check above
            raise exists
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
        if not add_unique(session, membership):  # granted by a simultaneous request: held now, as asked
            return False
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
