"""Recommendations: writing, editing, co-authors, and ``fire``, the only way a state changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import CursorResult, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from .. import audit, permissions, queries
from ..errors import Conflict, Forbidden, InvalidTransition, NoteRequired, NotFound, StatementsPending, ValidationError
from ..extensions import db
from ..models import (
    OPEN,
    AgendaItem,
    AnswerTemplate,
    Category,
    Decision,
    Process,
    Recommendation,
    RecommendationAuthor,
    RecommendationRevision,
    SteeringSession,
    User,
    utcnow,
)
from ..queries import Author, DecisionView, RecommendationView
from ..roles import process_roles, roles_for
from ..transactions import write_transaction
from ..workflow import engine
from ..workflow.definition import Workflow
from ..workflow.machines import Move
from . import categories, notifications
from .validation import BODY_MAX, FIELDS, NOTE_MAX, TITLE_MAX, clean_text, render_ahead


def workflow_of(owner: Any) -> Workflow:
    """The workflow of a process, or of a recommendation (model or view)."""
    return engine().get(owner.workflow_id)


def recommendation_for_change(recommendation_id: int, actor: Any) -> tuple[Recommendation, Workflow, frozenset[str]]:
    """Load and lock a recommendation for a change, with what a change and its answer read (process,
    authors, decision) in the same statement; 404 unless ``actor`` may see it."""
    rec = (
        db.session.scalars(
            select(Recommendation)
            .where(Recommendation.id == recommendation_id)
            .options(
                joinedload(Recommendation.process), joinedload(Recommendation.author_links), joinedload(Recommendation.decision)
            )
            .execution_options(populate_existing=True)
            .with_for_update(of=Recommendation)
        )
        .unique()
        .one_or_none()
    )
    if rec is None:
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    workflow = workflow_of(rec.process)
    roles = roles_for(actor, rec)
    if not permissions.can_view(roles, workflow, rec.state):
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    return rec, workflow, roles


def create_recommendation(process_id: int, actor: User, title: Any, body: Any, category: Any = None) -> Recommendation:
    """Write a recommendation in the workflow's initial state; ``category`` is the slug of one of the
    process's categories (docs/workflows.md#categories), or None."""
    body_html = render_ahead(body, BODY_MAX)
    with write_transaction() as session:
        # Locking the process row numbers concurrent recommendations one after another.
        process = session.scalars(select(Process).where(Process.id == process_id).with_for_update()).first()
        if process is None:
            raise NotFound(_("there is no process %(id)s", id=process_id))
        if not permissions.can_create(process_roles(actor, process.id)):
            raise Forbidden(_("only members, moderators and administrators of the process may write recommendations"))
        title = clean_text(title, "title", TITLE_MAX)
        body = clean_text(body, "body", BODY_MAX)
        assert body_html is not None  # rendered whenever clean_text accepts the body
        category_id = categories.category_for(process.id, category)
        rec = insert_recommendation(session, process, actor, title, body, body_html, category, category_id)
    return rec


def insert_recommendation(
    session,
    process: Process,
    actor: User,
    title: str,
    body: str,
    body_html: str,
    category: str | None = None,
    category_id: int | None = None,
) -> Recommendation:
    """Inside a write transaction that locked ``process``: a recommendation in the workflow's
    ``initial`` state with ``actor`` its author (and ``category``, the slug of ``category_id``), its
    first revision, its ``recommendation.created`` event (with a statement asked of the category's
    department where the state takes statements) and the notifications. Also used by public intake
    (app/services/intake.py)."""
    workflow = workflow_of(process)
    initial = workflow.states[workflow.initial]
    number = (session.scalar(select(func.max(Recommendation.number)).where(Recommendation.process_id == process.id)) or 0) + 1
    now = utcnow()
    rec = Recommendation(
        process_id=process.id,
        number=number,
        title=title,
        body=body,
        body_html=body_html,
        state=initial.name,
        state_entered_at=now,
        created_at=now,
        updated_at=now,
        due_at=now + timedelta(days=initial.deadline_days) if initial.deadline_days else None,
        category_id=category_id,
    )
    rec.author_links.append(RecommendationAuthor(user_id=actor.id, position=0))
    session.add(rec)
    session.flush()
    session.add(
        RecommendationRevision(
            recommendation_id=rec.id,
            revision=1,
            title=title,
            body=body,
            body_html=body_html,
            author_id=actor.id,
            created_at=now,
        )
    )
    data: dict[str, Any] = {"title": title, "body": body, "state": rec.state}
    if category_id is not None:
        data["category"] = category
    routed = categories.route(session, rec, workflow, rec.state, actor)
    if routed is not None:
        data["routed"] = routed
    audit.record("recommendation.created", rec, actor, data)
    notifications.on_transition(session, rec, workflow, None, rec.state, actor, None, None)
    return rec


def update_recommendation(
    recommendation_id: int, actor: User, expected_version: Any, title: Any = None, body: Any = None, category: Any = ...
) -> Recommendation:
    """Edit title and/or body. Checks: visible (404), version (409), ``editable_by`` (403), values (422).

    Submitting the current text again changes nothing and records nothing.
    """
    body_html = render_ahead(body, BODY_MAX) if body is not None else None
    with write_transaction() as session:
        rec, workflow, roles = recommendation_for_change(recommendation_id, actor)
        check_version(rec, expected_version)
        if not permissions.can_edit(roles, workflow, rec.state):
            raise Forbidden(_("nobody in your role may edit a recommendation in state '%(state)s'", state=rec.state))
        new = {}
        if title is not None:
            new["title"] = clean_text(title, "title", TITLE_MAX)
        if body is not None:
            new["body"] = clean_text(body, "body", BODY_MAX)
        if category is not ...:
            category_id = categories.category_for(rec.process_id, category)
        if not new and category is ...:
            raise ValidationError(_("give a title or a body to change"))
        changes: dict[str, list] = {
            field: [getattr(rec, field), value] for field, value in new.items() if getattr(rec, field) != value
        }
        if category is not ... and category_id != rec.category_id:
            changes["category"] = [rec.category_slug, category or None]
            rec.category = session.get(Category, category_id) if category_id is not None else None
            if not (changes.keys() - {"category"}):  # the text is the same: no new revision
                rec.updated_at = utcnow()
                audit.record("recommendation.updated", rec, actor, {"changes": changes})
                return rec
        if not changes:
            return rec
        now = utcnow()
        for field, (_old, value) in changes.items():
            if field != "category":
                setattr(rec, field, value)
        if "body" in changes:
            assert body_html is not None  # rendered whenever clean_text accepts the body
            rec.body_html = body_html
        rec.updated_at = now
        revision = (
            session.scalar(
                select(func.max(RecommendationRevision.revision)).where(RecommendationRevision.recommendation_id == rec.id)
            )
            or 0
        )
        session.add(
            RecommendationRevision(
                recommendation_id=rec.id,
                revision=revision + 1,
                title=rec.title,
                body=rec.body,
                body_html=rec.body_html,
                author_id=actor.id,
                created_at=now,
            )
        )
        audit.record("recommendation.updated", rec, actor, {"changes": changes})
    return rec


#: Roles whose holders cannot be invited as co-authors: separation of duties lets no author fire
#: another role's step, so inviting them would take the text's moderation or decision away.
STEERING_ROLES = frozenset({"moderator", "administrator"})


def add_author(recommendation_id: int, actor: User, user: User) -> Recommendation:
    """Make a member of the process a co-author; only an author may invite one."""
    with write_transaction() as session:
        rec, workflow, roles = recommendation_for_change(recommendation_id, actor)
        if "author" not in roles:
            raise Forbidden(_("only the recommendation's authors may add co-authors"))
        if not permissions.can_edit(roles, workflow, rec.state):
            raise Forbidden(_("co-authors can be added only while the recommendation can be edited"))
        invitee = process_roles(user, rec.process_id)
        if not permissions.can_create(invitee):
            raise ValidationError(_("%(name)s is not a member of this process", name=user.name))
        if invitee & STEERING_ROLES:  # authors never move their own text: it would lose its moderator or decider
            raise ValidationError(_("%(name)s moderates or decides in this process and cannot co-author here", name=user.name))
        if any(link.user_id == user.id for link in rec.author_links):
            raise ValidationError(_("%(name)s is an author already", name=user.name))
        rec.author_links.append(RecommendationAuthor(user_id=user.id, position=len(rec.author_links)))
        rec.updated_at = utcnow()
        audit.record("recommendation.author_added", rec, actor, {"user_id": user.id, "name": user.name})
        notifications.on_author_added(session, rec, actor, user)
    return rec


def check_version(rec: Recommendation | RecommendationView, expected_version: Any) -> None:
    """409 unless the client saw the version the recommendation has now."""
    if expected_version != rec.version:
        raise Conflict(
            _(
                "recommendation %(id)s is at version %(version)s, not %(expected)s: "
                "someone else changed it; reload and try again",
                id=rec.id,
                version=rec.version,
                expected=expected_version,
            )
        )


def _statements_pending(departments: list[str]) -> StatementsPending:
    return StatementsPending(_("statements are still open from: %(departments)s", departments=", ".join(departments)))


_RECOMMENDATIONS = cast(Table, Recommendation.__table__)
# The move, naming the version the checks read: no row changes if another write came between.
_MOVE = (
    update(_RECOMMENDATIONS)
    .where(_RECOMMENDATIONS.c.id == bindparam("rec_id"), _RECOMMENDATIONS.c.version == bindparam("seen_version"))
    .values(
        state=bindparam("new_state"),
        version=bindparam("new_version"),
        state_entered_at=bindparam("now"),
        updated_at=bindparam("now"),
        due_at=bindparam("new_due_at"),
    )
)


def _hold_agenda_item(session_id: int, recommendation_id: int) -> None:
    """Inside the write: the session is still open (its row locked, so closing waits for this decision;
    409 once closed) and the recommendation is on its agenda, undecided (422)."""
    status = db.session.scalar(select(SteeringSession.status).where(SteeringSession.id == session_id).with_for_update())
    if status != OPEN:
        raise Conflict(_("the session is closed: its agenda and minutes cannot change any more"))
    decided = db.session.execute(
        select(AgendaItem.result_state).where(
            AgendaItem.session_id == session_id, AgendaItem.recommendation_id == recommendation_id
        )
    ).first()
    if decided is None:
        raise ValidationError(_("recommendation %(id)s is not on this session's agenda", id=recommendation_id))
    if decided.result_state is not None:
        raise ValidationError(_("this item was decided in this session already"))


def _check_gaps_filled(note: str, workflow: Workflow, process_id: int) -> None:
    """A justification that still holds a line of an answer template with its gaps
    ("… because …") is refused: the template was taken, not filled in (NoteRequired, 422)."""
    # Every final state's templates, not only this one's: the adopt template taken and then the
    # decision switched to reject must not pass as the rejection's reasons.
    texts = [
        text
        for final in workflow.states.values()
        if final.final and final.answer_template
        for _language, text in final.answer_template.values
    ]
    texts += db.session.scalars(select(AnswerTemplate.body).where(AnswerTemplate.process_id == process_id)).all()
    gaps = {line.strip() for text in texts for line in (text or "").splitlines() if "…" in line}
    left = [line.strip() for line in note.splitlines() if line.strip() in gaps]
    if left:
        raise NoteRequired(
            _("the justification still holds the answer template's gaps (…): fill them in, as in “%(line)s”", line=left[0])
        )


def fire(
    recommendation_id: int, trigger: str, actor: Any, note: str | None, expected_version: int, session_id: int | None = None
) -> RecommendationView:
    """Fire ``trigger`` on a recommendation, in one transaction, checking in this order:

    visible to the actor (404), ``expected_version`` current (409), trigger possible
    from the current state (422 invalid_transition), the actor's roles (403), a
    required note (422 note_required), no open statement where the transition requires
    statements (422 statements_pending). Then the state moves, ``due_at`` follows the
    new state's deadline, a final state records the decision, and one audit event
    is appended. Any failure leaves no trace. Returns the recommendation as it is now.

    The checks read before the write transaction begins, so that writers queue only for the
    write itself (on SQLite the whole database is locked while one writes). The UPDATE names
    the version the checks read: a change that came between is refused with 409, as if the
    client had sent a stale version. Reads and writes are plain statements, not the ORM's
    loading and flushing: every transition runs this, and profiling the workers (py-spy) put
    the ORM's share at five times the cost of the statements themselves.

    ``session_id``: the decision is taken in that session of the steering round (see
    ``app.services.sessions.decide``), which must be open with the recommendation on its agenda
    (422); the decision and the agenda item record it, and so does the event's data.
    """
    rec = queries.recommendation_view(recommendation_id, actor)
    if rec is None:
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    workflow = engine().get(rec.workflow_id)
    roles = roles_for(actor, rec)
    if not permissions.can_view(roles, workflow, rec.state):
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    check_version(rec, expected_version)
    if not isinstance(trigger, str) or trigger not in engine().possible(workflow.id, rec.state):
        raise InvalidTransition(_("'%(trigger)s' is not possible from state '%(state)s'", trigger=trigger, state=rec.state))
    given = note.strip() if isinstance(note, str) and note.strip() else None
    # Pure: the machine's guards and effects are worked out before writers queue.
    move = engine().move(
        workflow.id,
        rec.state,
        trigger,
        Move(roles, given, utcnow(), pending_statements=lambda: queries.open_statement_departments(rec.id)),
    )
    transition = move.transition
    assert transition is not None  # the machine names the transition it tried
    if move.refused == "roles":
        raise Forbidden(_("'%(trigger)s' needs one of the roles: %(roles)s", trigger=trigger, roles=", ".join(transition.roles)))
    if move.refused == "note":
        raise NoteRequired(_("%(field)s must not be blank", field=FIELDS["note"]))
    if move.refused == "statements":
        raise _statements_pending(move.pending)
    note = clean_text(note, "note", NOTE_MAX, required=False)
    state, now = move.dest, move.now
    assert state is not None and now is not None  # set by the machine's effects once no guard refused
    if note is not None and workflow.states[state].final:
        _check_gaps_filled(note, workflow, rec.process_id)

    with write_transaction() as session:
        if session_id is not None:
            # The session's row before the recommendation's, in the order adding to the agenda
            # takes them: the other order deadlocked on PostgreSQL against a concurrent add.
            _hold_agenda_item(session_id, rec.id)
        dest = workflow.states[state]
        due_at = move.due_at
        moved = cast(
            CursorResult,
            session.execute(
                _MOVE,
                {
                    "rec_id": rec.id,
                    "seen_version": rec.version,
                    "new_state": state,
                    "new_version": rec.version + 1,
                    "now": now,
                    "new_due_at": due_at,
                },
            ),
        ).rowcount
        if moved != 1:
            raise StaleDataError("the version moved between check and write")  # write_transaction: 409
        if "statements" in transition.requires:
            # A request that came between the check and the write holds the decision back too (it
            # locked the row this UPDATE now holds, so it is committed and seen, or comes after).
            pending = queries.open_statement_departments(rec.id)
            if pending:
                raise _statements_pending(pending)
        if session_id is not None:
            session.execute(
                update(cast(Table, AgendaItem.__table__))
                .where(AgendaItem.session_id == session_id, AgendaItem.recommendation_id == rec.id)
                .values(trigger=trigger, result_state=state, note=note, decided_by_id=actor.id, decided_at=now)
            )
        decision = None
        if move.outcome:
            session.execute(
                insert(cast(Table, Decision.__table__)).values(
                    recommendation_id=rec.id,
                    outcome=move.outcome,
                    state=dest.name,
                    note=note,
                    decided_by_id=actor.id,
                    decided_at=now,
                    session_id=session_id,
                )
            )
            decision = DecisionView(move.outcome, dest.name, note, Author(actor.id, actor.name), now)
        data: dict[str, Any] = {"trigger": trigger, "from": rec.state, "to": state}
        if note:
            data["note"] = note
        if session_id is not None:
            data["session_id"] = session_id
        routed = categories.route(session, replace(rec, state=state), workflow, state, actor)
        if routed is not None:
            data["routed"] = routed
        audit.record("recommendation.transitioned", rec, actor, data)
        notifications.on_transition(session, rec, workflow, rec.state, state, actor, trigger, note)
        # A copy of the row that this session loaded earlier (a page that showed it, say) is out of
        # date now: it reads afresh when next used.
        loaded = session.identity_map.get(identity_key(Recommendation, rec.id))
        if loaded is not None:
            session.expire(loaded)
    return replace(
        rec, state=state, version=rec.version + 1, state_entered_at=now, updated_at=now, due_at=due_at, decision=decision
    )
