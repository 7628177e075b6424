"""The transition service: ``fire`` is the only way a recommendation's state changes."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _

from .. import audit, permissions
from ..transactions import write_transaction
from ..errors import Forbidden, InvalidTransition, NoteRequired
from ..models import Decision, Recommendation, utcnow
from ..services import NOTE_MAX, check_version, clean_text, recommendation_for_change
from . import engine


def fire(recommendation_id: int, trigger: str, actor: Any, note: str | None, expected_version: int) -> Recommendation:
    """Fire ``trigger`` on a recommendation, in one transaction, checking in this order:

    visible to the actor (404), ``expected_version`` current (409), trigger possible
    from the current state (422 invalid_transition), the actor's roles (403), a
    required note (422 note_required). Then the state moves, ``due_at`` follows the
    new state's deadline, a final state records the decision, and one audit event
    is appended. Any failure leaves no trace.

    The checks read before the write transaction begins, so that writers queue only for the
    write itself (on SQLite the whole database is locked while one writes). The UPDATE names
    the version the checks read: a change that came between is refused with 409, as if the
    client had sent a stale version.
    """
    rec, workflow, roles = recommendation_for_change(recommendation_id, actor, lock=False)
    check_version(rec, expected_version)
    transition = workflow.transition(rec.state, trigger) if isinstance(trigger, str) else None
    if transition is None:
        raise InvalidTransition(_("'%(trigger)s' is not possible from state '%(state)s'", trigger=trigger, state=rec.state))
    if not permissions.can_fire(roles, transition):
        raise Forbidden(_("'%(trigger)s' needs one of the roles: %(roles)s", trigger=trigger, roles=", ".join(transition.roles)))
    note = clean_text(note, "note", NOTE_MAX, required=transition.requires_note, error=NoteRequired)

    with write_transaction():
        source = rec.state
        rec.state = engine().move(workflow.id, source, trigger)
        now = utcnow()
        dest = workflow.states[rec.state]
        rec.state_entered_at = now
        rec.updated_at = now
        rec.due_at = now + timedelta(days=dest.deadline_days) if dest.deadline_days else None
        if dest.final:
            rec.decision = Decision(outcome=dest.outcome, state=dest.name, note=note,
                                    decided_by_id=actor.id, decided_at=now)
        data = {"trigger": trigger, "from": source, "to": rec.state}
        if note:
            data["note"] = note
        audit.record("recommendation.transitioned", rec, actor, data)
    return rec
