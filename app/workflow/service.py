"""The transition service: ``fire`` is the only way a recommendation's state changes."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from .. import audit, permissions, queries
from ..errors import Forbidden, InvalidTransition, NotFound, NoteRequired
from ..models import Decision, Recommendation, utcnow
from ..queries import Author, DecisionView, RecommendationView
from ..services import NOTE_MAX, check_version, clean_text
from ..transactions import write_transaction
from . import engine

_RECOMMENDATIONS = Recommendation.__table__
# The move, naming the version the checks read: no row changes if another write came between.
_MOVE = (update(_RECOMMENDATIONS)
         .where(_RECOMMENDATIONS.c.id == bindparam("rec_id"), _RECOMMENDATIONS.c.version == bindparam("seen_version"))
         .values(state=bindparam("new_state"), version=bindparam("new_version"), state_entered_at=bindparam("now"),
                 updated_at=bindparam("now"), due_at=bindparam("new_due_at")))


def fire(recommendation_id: int, trigger: str, actor: Any, note: str | None, expected_version: int) -> RecommendationView:
    """Fire ``trigger`` on a recommendation, in one transaction, checking in this order:

    visible to the actor (404), ``expected_version`` current (409), trigger possible
    from the current state (422 invalid_transition), the actor's roles (403), a
    required note (422 note_required). Then the state moves, ``due_at`` follows the
    new state's deadline, a final state records the decision, and one audit event
    is appended. Any failure leaves no trace. Returns the recommendation as it is now.

    The checks read before the write transaction begins, so that writers queue only for the
    write itself (on SQLite the whole database is locked while one writes). The UPDATE names
    the version the checks read: a change that came between is refused with 409, as if the
    client had sent a stale version. Reads and writes are plain statements, not the ORM's
    loading and flushing: every transition runs this, and profiling the workers (py-spy) put
    the ORM's share at five times the cost of the statements themselves.
    """
    rec = queries.recommendation_view(recommendation_id, actor)
    workflow = engine().get(rec.workflow_id) if rec is not None else None
    roles = permissions.roles_for(actor, rec) if rec is not None else frozenset()
    if rec is None or not permissions.can_view(roles, workflow, rec.state):
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    check_version(rec, expected_version)
    transition = workflow.transition(rec.state, trigger) if isinstance(trigger, str) else None
    if transition is None:
        raise InvalidTransition(_("'%(trigger)s' is not possible from state '%(state)s'", trigger=trigger, state=rec.state))
    if not permissions.can_fire(roles, transition):
        raise Forbidden(_("'%(trigger)s' needs one of the roles: %(roles)s", trigger=trigger, roles=", ".join(transition.roles)))
    note = clean_text(note, "note", NOTE_MAX, required=transition.requires_note, error=NoteRequired)
    state = engine().move(workflow.id, rec.state, trigger)  # pure: worked out before writers queue

    with write_transaction() as session:
        now = utcnow()
        dest = workflow.states[state]
        due_at = now + timedelta(days=dest.deadline_days) if dest.deadline_days else None
        moved = session.execute(_MOVE, {"rec_id": rec.id, "seen_version": rec.version, "new_state": state,
                                        "new_version": rec.version + 1, "now": now, "new_due_at": due_at}).rowcount
        if moved != 1:
            raise StaleDataError("the version moved between check and write")  # write_transaction: 409
        decision = None
        if dest.final:
            session.execute(insert(Decision.__table__).values(
                recommendation_id=rec.id, outcome=dest.outcome, state=dest.name, note=note,
                decided_by_id=actor.id, decided_at=now))
            decision = DecisionView(dest.outcome, dest.name, note, Author(actor.id, actor.name), now)
        data = {"trigger": trigger, "from": rec.state, "to": state}
        if note:
            data["note"] = note
        audit.record("recommendation.transitioned", rec, actor, data)
        # A copy of the row that this session loaded earlier (a page that showed it, say) is out of
        # date now: it reads afresh when next used.
        loaded = session.identity_map.get(identity_key(Recommendation, rec.id))
        if loaded is not None:
            session.expire(loaded)
    return replace(rec, state=state, version=rec.version + 1, state_entered_at=now, updated_at=now,
                   due_at=due_at, decision=decision)
