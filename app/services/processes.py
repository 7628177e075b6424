"""Participation processes and the roles people hold in them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions
from ..errors import Forbidden, NotFound, ValidationError
from ..extensions import db
from ..models import PARTICIPATION_LEVELS, PROCESS_STATUSES, AnswerTemplate, Membership, Process, User, utcnow
from ..roles import forget_roles, process_roles
from ..transactions import add_unique, write_transaction
from ..workflow import engine
from .validation import BODY_MAX, SLUG, TITLE_MAX, clean_text, render_ahead, require_superuser

DESCRIPTION_MAX = BODY_MAX
CONTACT_MAX = 500
LINKS_MAX = 10
LINK_TITLE_MAX = 200
URL_MAX = 500
#: What ``process.updated`` records of the overview, in this order (``links`` as a list of {title, url}).
OVERVIEW_FIELDS = ("description", "status", "starts_on", "ends_on", "participation", "contact", "links")


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
        raise ValidationError(
            _("unknown role '%(role)s' (known: %(known)s)", role=role, known=", ".join(permissions.PROCESS_ROLES))
        )
    with write_transaction() as session:
        require_superuser(actor)
        exists = session.scalars(
            select(Membership).where(Membership.user_id == user.id, Membership.process_id == process.id, Membership.role == role)
        ).first()
        if exists:
            return False
        membership = Membership(user_id=user.id, process_id=process.id, role=role)
        if not add_unique(session, membership):  # granted by a simultaneous request: held now, as asked
            return False
        audit.record("membership.granted", membership, actor, {"user_id": user.id, "process": process.slug, "role": role})
    forget_roles()
    return True


def revoke_role(process: Process, user: User, role: str, actor: User | None = None) -> bool:
    """Take a role in ``process`` from ``user``; False when they did not hold it."""
    with write_transaction() as session:
        require_superuser(actor)
        membership = session.scalars(
            select(Membership).where(Membership.user_id == user.id, Membership.process_id == process.id, Membership.role == role)
        ).first()
        if membership is None:
            return False
        audit.record("membership.revoked", membership, actor, {"user_id": user.id, "process": process.slug, "role": role})
        session.delete(membership)
    forget_roles()
    return True


# -- the overview of procedures (Vorhabenliste) --------------------------------------


def _date(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(_("%(value)s is not a date (write it as YYYY-MM-DD)", value=str(value)[:40]), field=field)


def parse_links(value: Any) -> list[dict[str, str]]:
    """Links as a list of ``{title, url}``; also one per line as ``https://… Title`` (the title is
    optional, the address stands first). Only http and https addresses, at most ``LINKS_MAX``."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = []
        for line in value.splitlines():
            line = line.strip()
            if line:
                url, _sep, title = line.partition(" ")
                items.append({"url": url, "title": title.strip()})
        value = items
    if not isinstance(value, list):
        raise ValidationError(_("links must be a list of {title, url}"), field="links")
    if len(value) > LINKS_MAX:
        raise ValidationError(_("at most %(max)s links", max=LINKS_MAX), field="links")
    links = []
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) - {"title", "url"}
            or not isinstance(item.get("url"), str)
            or not isinstance(item.get("title", ""), str)
        ):
            raise ValidationError(_("links must be a list of {title, url}"), field="links")
        url, title = item["url"].strip(), (item.get("title") or "").strip()
        parts = urlsplit(url) if len(url) <= URL_MAX and "\x00" not in url else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
            raise ValidationError(
                _("%(url)s is not an http or https address (at most %(max)s characters)", url=url[:80], max=URL_MAX),
                field="links",
            )
        if len(title) > LINK_TITLE_MAX or "\x00" in title:
            raise ValidationError(_("a link's title is longer than %(max)s characters", max=LINK_TITLE_MAX), field="links")
        links.append({"title": title or url, "url": url})
    return links


def update_overview(
    process_id: int,
    actor: Any,
    *,
    description: Any = "",
    status: Any = "running",
    starts_on: Any = None,
    ends_on: Any = None,
    participation: Any = None,
    contact: Any = "",
    links: Any = None,
) -> Process:
    """Set a process's entry in the overview of procedures, all fields at once.

    Checks: the actor may keep the overview (403: superusers and the process's administrators), then
    the values (422, naming the field): a known status and level, dates as YYYY-MM-DD with the end
    not before the start, texts within their limits, http(s) links. Nothing changes unless all pass;
    sending what is there already records nothing. One ``process.updated`` event holds
    ``changes: {field: [old, new]}``.
    """
    description_html = render_ahead(description, DESCRIPTION_MAX) if description not in (None, "") else ""
    with write_transaction() as session:
        process = session.scalars(select(Process).where(Process.id == process_id).with_for_update()).first()
        if process is None:
            raise NotFound(_("there is no process %(id)s", id=process_id))
        if actor is not None and not permissions.can_edit_overview(process_roles(actor, process.id), bool(actor.is_superuser)):
            raise Forbidden(_("only superusers and the process's administrators keep its overview"))
        new: dict[str, Any] = {
            "description": clean_text(description, "description", DESCRIPTION_MAX, required=False) or "",
            "status": status,
            "starts_on": _date(starts_on, "starts_on"),
            "ends_on": _date(ends_on, "ends_on"),
            "participation": participation or None,
            "contact": clean_text(contact, "contact", CONTACT_MAX, required=False) or "",
            "links": parse_links(links),
        }
        if status not in PROCESS_STATUSES:
            raise ValidationError(
                _("unknown status '%(value)s' (known: %(known)s)", value=str(status)[:40], known=", ".join(PROCESS_STATUSES)),
                field="status",
            )
        if new["participation"] is not None and new["participation"] not in PARTICIPATION_LEVELS:
            raise ValidationError(
                _(
                    "unknown level of participation '%(value)s' (known: %(known)s)",
                    value=str(participation)[:40],
                    known=", ".join(PARTICIPATION_LEVELS),
                ),
                field="participation",
            )
        if new["starts_on"] and new["ends_on"] and new["ends_on"] < new["starts_on"]:
            raise ValidationError(_("the end date lies before the start date"), field="ends_on")
        old = overview_of(process)
        shown = {field: value.isoformat() if isinstance(value, date) else value for field, value in new.items()}
        changes = {field: [old[field], shown[field]] for field in OVERVIEW_FIELDS if old[field] != shown[field]}
        if not changes:
            return process
        process.description = new["description"]
        process.description_html = (description_html or "") if new["description"] else ""
        process.status = new["status"]
        process.starts_on, process.ends_on = new["starts_on"], new["ends_on"]
        process.participation = new["participation"]
        process.contact = new["contact"]
        process.links_json = json.dumps(new["links"], ensure_ascii=False)
        audit.record("process.updated", process, actor, {"changes": changes})
    return process


def overview_of(process: Process) -> dict[str, Any]:
    """A process's overview fields as the audit trail records them (dates as YYYY-MM-DD)."""
    return {
        "description": process.description or "",
        "status": process.status,
        "starts_on": process.starts_on.isoformat() if process.starts_on else None,
        "ends_on": process.ends_on.isoformat() if process.ends_on else None,
        "participation": process.participation,
        "contact": process.contact or "",
        "links": process.links,
    }


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
        row = session.scalars(
            select(AnswerTemplate).where(AnswerTemplate.process_id == process.id, AnswerTemplate.state == state)
        ).first()
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
