"""Follow-up (Umsetzung): dated reports on how an adopted recommendation is carried out.

After a decision into a final state that declares ``follow_up: true`` (in the shipped workflow:
adopted, and adopted in part), the process's
administrators and the members of the departments asked for a statement on it (or named
responsible for it) report where the implementation stands: a status (planned, in progress,
done, stalled), a text, optionally the responsible department and the date the next report is
due. Reports are read by whoever may see the recommendation. One audit event per report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions
from ..errors import Forbidden, ValidationError
from ..models import FOLLOW_UP_STATUSES, Department, FollowUp, Statement, User, utcnow
from ..roles import department_ids
from ..transactions import write_transaction
from .recommendations import recommendation_for_change
from .validation import COMMENT_MAX, clean_text, render_ahead

NEXT_DAYS_MAX = 730


def record_follow_up(
    recommendation_id: int, actor: User, status: Any, body: Any, next_days: Any = None, department: Any = None
) -> FollowUp:
    """Checks: visible (404), adopted (422), the actor's standing (403), then the values (422)."""
    body_html = render_ahead(body, COMMENT_MAX)
    with write_transaction() as session:
        rec, workflow, roles = recommendation_for_change(recommendation_id, actor)
        if not permissions.takes_follow_up(workflow, rec.state):
            raise ValidationError(_("follow-up is reported on adopted recommendations only"))
        mine = department_ids(actor)
        asked = set(session.scalars(select(Statement.department_id).where(Statement.recommendation_id == rec.id)))
        responsible = set(
            session.scalars(
                select(FollowUp.department_id).where(FollowUp.recommendation_id == rec.id, FollowUp.department_id.is_not(None))
            )
        )
        if not permissions.can_record_follow_up(roles, bool(mine & (asked | responsible))):
            raise Forbidden(_("follow-up is reported by the process's administrators and the departments concerned"))
        if status not in FOLLOW_UP_STATUSES:
            raise ValidationError(
                _("status must be one of: %(statuses)s", statuses=", ".join(FOLLOW_UP_STATUSES)), field="status"
            )
        body = clean_text(body, "body", COMMENT_MAX)
        next_due_at = None
        if next_days not in (None, ""):
            if isinstance(next_days, bool) or not isinstance(next_days, int) or not 1 <= next_days <= NEXT_DAYS_MAX:
                raise ValidationError(_("the next report is due in 1 to %(max)s days", max=NEXT_DAYS_MAX), field="next_days")
            next_due_at = utcnow() + timedelta(days=next_days)
        target = None
        if department not in (None, ""):
            target = (
                session.scalars(select(Department).where(Department.slug == department)).first()
                if isinstance(department, str)
                else None
            )
            if target is None:
                raise ValidationError(_("there is no department '%(slug)s'", slug=department), field="department")
        now = utcnow()
        report = FollowUp(
            recommendation_id=rec.id,
            department=target,
            status=status,
            body=body,
            body_html=body_html,
            next_due_at=next_due_at,
            author_id=actor.id,
            created_at=now,
        )
        session.add(report)
        audit.record(
            "follow_up.recorded",
            report,
            actor,
            {
                "recommendation_id": rec.id,
                "status": status,
                "body": body,
                "department": target.slug if target else None,
                "next_due_at": _stamp(next_due_at),
            },
        )
    return report


def _stamp(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None
