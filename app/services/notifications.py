"""Notifications and the e-mail outbox (docs/notifications.md).

The services that change something call the ``on_*`` functions below inside their own write
transaction, so the notifications (and the outbox mails that carry them) commit or roll back with
the change: a refused action tells nobody, a committed one is never forgotten. Nobody is told of
something they may not see, nor of what they did themselves.

The worker (app/notify/) reads the outbox and sends; its passes that write (claiming a mail,
recording the outcome, deadlines, digests) live here too, each idempotent.

A person's setting per kind (immediate, daily digest, off) governs e-mail; the in-app list (the
bell) shows every notification regardless.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .. import permissions
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import (
    DEFAULT_MODES,
    DELIVERY_MODES,
    NOTIFICATION_KINDS,
    Comment,
    DeadlineMark,
    DepartmentMember,
    Follow,
    Mail,
    Membership,
    Notification,
    NotificationSetting,
    Process,
    Recommendation,
    RecommendationAuthor,
    Statement,
    User,
    utcnow,
)
from ..roles import user_id as id_of
from ..transactions import WRITE_OPTION, add_unique, is_postgresql, sqlite_lock_file, write_transaction
from ..workflow import engine
from ..workflow.definition import DEPARTMENT, PUBLIC, Workflow
from .validation import require_superuser

#: An unsubscribe link for a digest turns off every kind the person receives as a digest;
#: one in an invitation or password e-mail turns off every kind.
UNSUBSCRIBE_SCOPES = NOTIFICATION_KINDS + ("digest", "all")
# The tables, for the bulk statements that skip the ORM's per-row work.
_NOTIFICATIONS = cast(Table, Notification.__table__)
_MAILS = cast(Table, Mail.__table__)
_DEADLINE_MARKS = cast(Table, DeadlineMark.__table__)


# -- settings -----------------------------------------------------------------------------


def modes(user_id: int) -> dict[str, str]:
    """A person's setting for every kind (the defaults where they chose nothing)."""
    chosen = dict(
        db.session.execute(
            select(NotificationSetting.kind, NotificationSetting.mode).where(NotificationSetting.user_id == user_id)
        ).all()
    )
    return {kind: chosen.get(kind, DEFAULT_MODES[kind]) for kind in NOTIFICATION_KINDS}


def _set_modes(session, user_id: int, changes: dict[str, str]) -> None:
    session.execute(
        delete(NotificationSetting).where(NotificationSetting.user_id == user_id, NotificationSetting.kind.in_(list(changes)))
    )
    session.add_all(NotificationSetting(user_id=user_id, kind=kind, mode=mode) for kind, mode in changes.items())
    # Turned off means from now on: mails of those kinds still waiting (the server down, say) are not sent.
    _skip_waiting(session, user_id, [kind for kind, mode in changes.items() if mode == "off"])


def _skip_waiting(session, user_id: int, kinds: list[str]) -> None:
    """A kind turned off: its mails still waiting are not sent, nor its news set aside for the next
    digest (it stays on the notifications page)."""
    if kinds:
        session.execute(
            update(Mail)
            .where(Mail.user_id == user_id, Mail.status == "pending", Mail.kind.in_(kinds))
            .values(status="skipped", last_error="turned off by its recipient")
        )
        session.execute(
            update(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.kind.in_(kinds),
                Notification.delivery == "digest",
                Notification.mail_id.is_(None),
            )
            .values(delivery="off")
        )


def save_settings(actor: Any, chosen: dict[str, Any], language: Any = None) -> dict[str, str]:
    """Store a person's choice per kind (and the language of their e-mails); 422 for anything unknown."""
    uid = id_of(actor)
    if uid is None:
        raise NotFound(_("there is no such person"))
    for kind, mode in chosen.items():
        if kind not in NOTIFICATION_KINDS:
            raise ValidationError(_("'%(kind)s' is not a kind of notification", kind=kind))
        if mode not in DELIVERY_MODES:
            raise ValidationError(_("'%(mode)s' is not one of: immediate, digest, off", mode=mode))
    if language not in (None, "", *current_app.config["LANGUAGES"]):
        raise ValidationError(_("'%(language)s' is not a language of this installation", language=language))
    with write_transaction() as session:
        _set_modes(session, uid, dict(chosen))
        if language is not None:
            session.get_one(User, uid).language = language or None
    return modes(uid)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="ratschlag.unsubscribe")


def unsubscribe_token(user_id: int, scope: str) -> str:
    """The signed, per-person, per-kind part of an unsubscribe link (valid until the secret key changes)."""
    return _serializer().dumps([user_id, scope])


def read_unsubscribe_token(token: Any) -> tuple[User, str]:
    """Whose link it is and what it turns off; NotFound for anything not signed by us."""
    try:
        user_id, scope = _serializer().loads(token) if isinstance(token, str) and len(token) < 500 else (None, None)
    except (BadSignature, ValueError, TypeError):
        user_id, scope = None, None
    user = db.session.get(User, user_id) if type(user_id) is int else None
    if user is None or scope not in UNSUBSCRIBE_SCOPES:
        raise NotFound(_("this unsubscribe link is not valid"))
    return user, scope


def unsubscribe(token: Any) -> tuple[User, list[str]]:
    """One-click unsubscribe (RFC 8058): turn the link's kind of e-mail off for the link's person."""
    user, scope = read_unsubscribe_token(token)
    current = modes(user.id)
    if scope == "all":
        kinds = list(NOTIFICATION_KINDS)
    elif scope == "digest":
        kinds = [kind for kind, mode in current.items() if mode == "digest"]
    else:
        kinds = [scope]
    with write_transaction() as session:
        _set_modes(session, user.id, {kind: "off" for kind in kinds})
        if scope in ("digest", "all"):
            _skip_waiting(session, user.id, ["digest"])
    return user, kinds


# -- follows ------------------------------------------------------------------------------


def follow(actor: Any, recommendation_id: int | None = None, process_id: int | None = None) -> bool:
    """Follow a recommendation (one the person can see) or a process; False if followed already,
    also when a simultaneous request (a double click) made the same follow a moment before: on
    PostgreSQL both can pass the check, and the unique constraint refuses the second quietly."""
    uid = _subject_check(actor, recommendation_id, process_id)
    with write_transaction() as session:
        if session.scalar(_follow_query(uid, recommendation_id, process_id)) is not None:
            return False
        return add_unique(session, Follow(user_id=uid, recommendation_id=recommendation_id, process_id=process_id))


def unfollow(actor: Any, recommendation_id: int | None = None, process_id: int | None = None) -> bool:
    uid = _subject_check(actor, recommendation_id, process_id)
    with write_transaction() as session:
        found = session.scalar(_follow_query(uid, recommendation_id, process_id))
        if found is None:
            return False
        session.execute(delete(Follow).where(Follow.id == found))
    return True


def follows(user_id: int | None, recommendation_id: int | None = None, process_id: int | None = None) -> bool:
    return user_id is not None and db.session.scalar(_follow_query(user_id, recommendation_id, process_id)) is not None


def _follow_query(uid: int, recommendation_id: int | None, process_id: int | None):
    return select(Follow.id).where(
        Follow.user_id == uid,
        Follow.recommendation_id == recommendation_id if recommendation_id else Follow.process_id == process_id,
    )


def _subject_check(actor: Any, recommendation_id: int | None, process_id: int | None) -> int:
    from ..roles import roles_for

    uid = id_of(actor)
    if uid is None:
        raise NotFound(_("sign in to follow"))
    if (recommendation_id is None) == (process_id is None):
        raise ValidationError(_("follow either a recommendation or a process"))
    if recommendation_id is not None:
        rec = db.session.get(Recommendation, recommendation_id)
        if rec is None or not permissions.can_view(roles_for(actor, rec), engine().get(rec.process.workflow_id), rec.state):
            raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    elif db.session.get(Process, process_id) is None:
        raise NotFound(_("there is no process %(id)s", id=process_id))
    return uid


# -- reading and marking ----------------------------------------------------------------------


def mark_read(actor: Any, notification_ids: Iterable[int] | None = None) -> int:
    """Mark some of a person's notifications read (all when ``notification_ids`` is None); how many changed."""
    uid = id_of(actor)
    if uid is None:
        return 0
    query = update(Notification).where(Notification.user_id == uid, Notification.read_at.is_(None))
    if notification_ids is not None:
        ids = [i for i in notification_ids if type(i) is int][:1000]
        if not ids:
            return 0
        query = query.where(Notification.id.in_(ids))
    with write_transaction() as session:
        return cast(CursorResult, session.execute(query.values(read_at=utcnow()))).rowcount


# -- who is told: called inside the change's own transaction --------------------------------------


FOLLOWER, REPLIED_TO = "follower", "replied_to"


def _connected(
    session, process_id: int, recommendation_id: int | None, parent_comment_id: int | None = None
) -> dict[int, set[str]]:
    """Every active person connected with a recommendation, with the roles they hold for it, plus
    the marks ``follower`` (follows it or its process) and ``replied_to`` (wrote the parent comment).
    One statement, whatever the number of people."""
    parts = [
        select(Membership.user_id.label("user_id"), Membership.role.label("role")).where(Membership.process_id == process_id),
        select(Follow.user_id, literal(FOLLOWER)).where(
            or_(Follow.process_id == process_id, Follow.recommendation_id == recommendation_id)
            if recommendation_id is not None
            else Follow.process_id == process_id
        ),
    ]
    if recommendation_id is not None:
        parts.append(
            select(RecommendationAuthor.user_id, literal("author")).where(
                RecommendationAuthor.recommendation_id == recommendation_id
            )
        )
        asked = select(Statement.department_id).where(Statement.recommendation_id == recommendation_id)
        parts.append(select(DepartmentMember.user_id, literal(DEPARTMENT)).where(DepartmentMember.department_id.in_(asked)))
    if parent_comment_id is not None:
        parts.append(select(Comment.author_id, literal(REPLIED_TO)).where(Comment.id == parent_comment_id))
    everyone = union_all(*parts).subquery()
    held: dict[int, set[str]] = defaultdict(lambda: {PUBLIC})
    for uid, role in session.execute(
        select(everyone.c.user_id, everyone.c.role).join(User, User.id == everyone.c.user_id).where(User.active.is_(True))
    ):
        held[uid].add(role)
    return held


def _roles(marks: set[str]) -> frozenset[str]:
    return frozenset(marks - {FOLLOWER, REPLIED_TO})


def _message_id() -> str:
    host = urlsplit(current_app.config.get("BASE_URL") or "").hostname or "ratschlag.invalid"
    return f"<{secrets.token_hex(16)}@{host}>"


def new_mail(session, user_id: int, kind: str, **values) -> Mail:
    mail = Mail(
        user_id=user_id, kind=kind, message_id=_message_id(), status="pending", attempts=0, next_attempt_at=utcnow(), **values
    )
    session.add(mail)
    session.flush()
    return mail


def _tell(
    session,
    recipients: dict[int, str],
    event: str,
    *,
    recommendation_id: int | None,
    actor_id: int | None,
    data: dict,
    comment_id: int | None = None,
    statement_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Write one notification per recipient (``{user_id: kind}``) in one statement. Whether and how
    each is e-mailed (the person's setting) the worker decides (``route_pass``), outside this transaction."""
    if recipients:
        now = now or utcnow()
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        session.execute(
            insert(_NOTIFICATIONS),
            [
                {
                    "user_id": uid,
                    "kind": kind,
                    "event": event,
                    "recommendation_id": recommendation_id,
                    "comment_id": comment_id,
                    "statement_id": statement_id,
                    "actor_id": actor_id,
                    "data": text,
                    "delivery": "pending",
                    "mail_id": None,
                    "created_at": now,
                    "read_at": None,
                }
                for uid, kind in recipients.items()
            ],
        )
    return len(recipients)


def may_fire_from(roles: frozenset[str], workflow: Workflow, state: str) -> bool:
    return any(permissions.can_fire(roles, t) for t in workflow.outgoing(state))


def on_transition(
    session, rec: Any, workflow: Workflow, source: str | None, dest: str, actor: Any, trigger: str | None, note: str | None
) -> int:
    """A recommendation moved from ``source`` to ``dest`` (or was created in it): tell its authors
    (``authored``), those who may act now (``your_turn``) and its followers (``followed``), each
    only if they can see it in ``dest`` and did not do it themselves."""
    recipients = {}
    for uid, marks in _connected(session, rec.process_id, rec.id).items():
        roles = _roles(marks)
        if uid == id_of(actor) or not permissions.can_view(roles, workflow, dest):
            continue
        if "author" in roles:
            recipients[uid] = "authored"
        elif may_fire_from(roles, workflow, dest):
            recipients[uid] = "your_turn"
        elif FOLLOWER in marks:
            recipients[uid] = "followed"
    if recipients and not permissions.can_view(frozenset({PUBLIC}), workflow, dest):
        # A resident (public intake) is told only of the steps the public may see (docs/workflows.md#public-intake):
        # the administration's internal steps and their notes stay inside.
        residents = session.scalars(select(User.id).where(User.id.in_(list(recipients)), User.resident.is_(True)))
        for uid in residents.all():
            del recipients[uid]
    data = {"trigger": trigger, "from": source, "to": dest}
    if note:
        data["note"] = note
    return _tell(session, recipients, "transition", recommendation_id=rec.id, actor_id=id_of(actor), data=data)


def on_author_added(session, rec: Recommendation, actor: Any, user: Any) -> int:
    """Someone was made a co-author: tell them (``authored``: they are an author of it now, and an
    author may see it in every state where authors may be added)."""
    invitee = id_of(user)
    if invitee is None or invitee == id_of(actor):
        return 0
    return _tell(session, {invitee: "authored"}, "coauthor", recommendation_id=rec.id, actor_id=id_of(actor), data={})


def on_comment(session, comment: Comment, rec: Recommendation, workflow: Workflow, actor: Any) -> int:
    """A comment was written: tell the author of the comment it answers (``reply``) and the followers,
    each only if they may read it."""
    recipients = {}
    for uid, marks in _connected(session, rec.process_id, rec.id, comment.parent_id).items():
        roles = _roles(marks)
        if uid == id_of(actor) or not (
            permissions.can_view(roles, workflow, rec.state) and permissions.can_read_comment(roles, comment)
        ):
            continue
        if REPLIED_TO in marks:
            recipients[uid] = "reply"
        elif FOLLOWER in marks:
            recipients[uid] = "followed"
    session.flush()  # the comment's id
    return _tell(session, recipients, "comment", recommendation_id=rec.id, comment_id=comment.id, actor_id=id_of(actor), data={})


def on_report(session, comment: Comment, rec: Recommendation, workflow: Workflow, actor: Any) -> int:
    """A comment was reported: tell the process's moderators (but not a reporting moderator)."""
    recipients = {
        uid: "report"
        for uid, marks in _connected(session, rec.process_id, rec.id).items()
        if "moderator" in marks and uid != id_of(actor) and permissions.can_view(_roles(marks), workflow, rec.state)
    }
    return _tell(session, recipients, "report", recommendation_id=rec.id, comment_id=comment.id, actor_id=id_of(actor), data={})


def on_statement_requested(session, statement: Statement, rec: Recommendation, workflow: Workflow, actor: Any) -> int:
    """A department was asked: tell its members who can see the recommendation (``statement``)."""
    session.flush()
    members = set(
        session.scalars(select(DepartmentMember.user_id).where(DepartmentMember.department_id == statement.department_id))
    )
    recipients = {
        uid: "statement"
        for uid, marks in _connected(session, rec.process_id, rec.id).items()
        if uid in members and uid != id_of(actor) and permissions.can_view(_roles(marks), workflow, rec.state)
    }
    return _tell(
        session,
        recipients,
        "statement",
        recommendation_id=rec.id,
        statement_id=statement.id,
        actor_id=id_of(actor),
        data={"department": statement.department.name},
    )


def on_routed_to_moderators(session, rec: Any, workflow: Workflow, state: str, actor: Any) -> int:
    """An item's category routes it to no active department: tell the process's moderators who may
    see it (``your_turn``), unless they did it themselves (app/services/categories.py)."""
    recipients = {
        uid: "your_turn"
        for uid, marks in _connected(session, rec.process_id, rec.id).items()
        if "moderator" in marks and uid != id_of(actor) and permissions.can_view(_roles(marks), workflow, state)
    }
    return _tell(
        session,
        recipients,
        "transition",
        recommendation_id=rec.id,
        actor_id=id_of(actor),
        data={"trigger": None, "from": None, "to": state, "routed": "moderators"},
    )


def on_statement_given(session, statement: Statement, rec: Recommendation, workflow: Workflow, actor: Any) -> int:
    """A statement was answered or declined: tell the followers who may read it (``followed``)."""
    members = set(
        session.scalars(select(DepartmentMember.user_id).where(DepartmentMember.department_id == statement.department_id))
    )
    recipients = {
        uid: "followed"
        for uid, marks in _connected(session, rec.process_id, rec.id).items()
        if FOLLOWER in marks
        and uid != id_of(actor)
        and permissions.can_view(_roles(marks), workflow, rec.state)
        and permissions.can_read_statement(_roles(marks), statement, uid in members)
    }
    return _tell(
        session,
        recipients,
        "statement",
        recommendation_id=rec.id,
        statement_id=statement.id,
        actor_id=id_of(actor),
        data={"department": statement.department.name, "status": statement.status},
    )


# -- the worker's passes ----------------------------------------------------------------------


def _modes_of(session, user_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    ids = list(user_ids)
    chosen: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        for uid, kind, mode in session.execute(
            select(NotificationSetting.user_id, NotificationSetting.kind, NotificationSetting.mode).where(
                NotificationSetting.user_id.in_(ids)
            )
        ):
            chosen[uid][kind] = mode
    return {uid: {kind: chosen[uid].get(kind, DEFAULT_MODES[kind]) for kind in NOTIFICATION_KINDS} for uid in ids}


def route_pass(batch: int = 500) -> int:
    """Give every new notification its way by its recipient's setting: a mail of its own now
    (``immediate``), a place in the next digest (``digest``), or none (``off``). Each batch is one
    transaction; on PostgreSQL several workers take different rows (SKIP LOCKED), so no notification
    gets two mails. Returns how many mails it queued."""
    queued = 0
    while True:
        with write_transaction() as session:
            query = (
                select(Notification.id, Notification.user_id, Notification.kind)
                .where(Notification.delivery == "pending")
                .order_by(Notification.id)
                .limit(batch)
            )
            if is_postgresql():
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return queued
            settings = _modes_of(session, {uid for _id, uid, _kind in rows})
            now = utcnow()
            routed: dict[str, list[int]] = {"digest": [], "off": []}
            mails = []
            for note_id, uid, kind in rows:
                mode = settings[uid][kind]
                if mode == "immediate":
                    mails.append({"note_id": note_id, "user_id": uid, "kind": kind, "message_id": _message_id()})
                else:
                    routed[mode].append(note_id)
            for mode, ids in routed.items():
                if ids:
                    session.execute(update(Notification).where(Notification.id.in_(ids)).values(delivery=mode))
            if mails:
                created = session.execute(
                    insert(_MAILS).returning(_MAILS.c.id, _MAILS.c.message_id, sort_by_parameter_order=True),
                    [
                        {
                            "user_id": m["user_id"],
                            "kind": m["kind"],
                            "message_id": m["message_id"],
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for m in mails
                    ],
                ).all()
                mail_ids = dict((message_id, mail_id) for mail_id, message_id in created)
                session.execute(
                    update(_NOTIFICATIONS)
                    .where(_NOTIFICATIONS.c.id == bindparam("note_id"))
                    .values(mail_id=bindparam("mail_id"), delivery="immediate"),
                    [{"note_id": m["note_id"], "mail_id": mail_ids[m["message_id"]]} for m in mails],
                )
                queued += len(mails)


def deadline_pass(now: datetime | None = None, batch: int = 500) -> int:
    """Tell those who may move a recommendation on that its decision is due in
    ``REMINDER_DAYS`` days (once), and that it is overdue (once). Idempotent: a mark per
    recommendation, due date and stage is written in the same transaction as the notifications,
    so a second run, or a second worker, finds nothing to do. Returns how many notifications it wrote."""
    now = now or utcnow()
    horizon = now + timedelta(days=int(current_app.config.get("REMINDER_DAYS") or 0))
    stage = case((Recommendation.due_at > now, "reminder"), else_="overdue")
    marked = exists().where(
        DeadlineMark.recommendation_id == Recommendation.id,
        DeadlineMark.due_at == Recommendation.due_at,
        DeadlineMark.stage == stage,
    )
    query = (
        select(
            Recommendation.id, Recommendation.due_at, Recommendation.state, Recommendation.process_id, Process.workflow_id, stage
        )
        .join(Process, Process.id == Recommendation.process_id)
        .where(Recommendation.due_at.is_not(None), Recommendation.due_at <= horizon, ~marked)
        .order_by(Recommendation.due_at, Recommendation.id)
        .limit(batch)
    )
    written = 0
    while True:
        rows = db.session.execute(query).all()
        db.session.rollback()
        if not rows:
            return written
        with write_transaction() as session:
            # The marks first, in one statement: the rows another worker marked meanwhile come back
            # as nothing and are left to it.
            dialect = postgresql if is_postgresql() else sqlite
            ours = set(
                session.scalars(
                    dialect.insert(_DEADLINE_MARKS)
                    .values(
                        [
                            {"recommendation_id": rec_id, "due_at": due_at, "stage": rec_stage, "created_at": now}
                            for rec_id, due_at, _state, _process, _workflow, rec_stage in rows
                        ]
                    )
                    .on_conflict_do_nothing()
                    .returning(_DEADLINE_MARKS.c.recommendation_id)
                )
            )
            mine = [row for row in rows if row[0] in ours]
            held = _connected_many(session, [(row[0], row[3]) for row in mine])
            notes: list[dict[str, Any]] = []
            for rec_id, due_at, state, _process_id, workflow_id, rec_stage in mine:
                workflow = engine().get(workflow_id)
                data = json.dumps({"state": state, "due_at": due_at.strftime("%Y-%m-%dT%H:%M:%SZ")}, sort_keys=True)
                notes.extend(
                    {
                        "user_id": uid,
                        "kind": "deadline",
                        "event": rec_stage,
                        "recommendation_id": rec_id,
                        "comment_id": None,
                        "statement_id": None,
                        "actor_id": None,
                        "data": data,
                        "delivery": "pending",
                        "mail_id": None,
                        "created_at": now,
                        "read_at": None,
                    }
                    for uid, roles in held.get(rec_id, {}).items()
                    if permissions.can_view(frozenset(roles), workflow, state)
                    and may_fire_from(frozenset(roles), workflow, state)
                )
            if notes:
                session.execute(insert(_NOTIFICATIONS), notes)
            written += len(notes)


def _connected_many(session, recommendations: list[tuple[int, int]]) -> dict[int, dict[int, set[str]]]:
    """``_connected`` for many recommendations (id, process id) at once, without followers: three
    statements whatever their number (the reminder pass)."""
    if not recommendations:
        return {}
    rec_ids = [rec_id for rec_id, _process in recommendations]
    active = User.active.is_(True)
    by_process: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for process_id, uid, role in session.execute(
        select(Membership.process_id, Membership.user_id, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(Membership.process_id.in_({process for _rec, process in recommendations}), active)
    ):
        by_process[process_id][uid].add(role)
    extra: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for rec_id, uid in session.execute(
        select(RecommendationAuthor.recommendation_id, RecommendationAuthor.user_id)
        .join(User, User.id == RecommendationAuthor.user_id)
        .where(RecommendationAuthor.recommendation_id.in_(rec_ids), active)
    ):
        extra[rec_id][uid].add("author")
    for rec_id, uid in session.execute(
        select(Statement.recommendation_id, DepartmentMember.user_id)
        .join(DepartmentMember, DepartmentMember.department_id == Statement.department_id)
        .join(User, User.id == DepartmentMember.user_id)
        .where(Statement.recommendation_id.in_(rec_ids), active)
        .distinct()
    ):
        extra[rec_id][uid].add(DEPARTMENT)
    found = {}
    for rec_id, process_id in recommendations:
        people: dict[int, set[str]] = {}
        for source in (by_process.get(process_id, {}), extra.get(rec_id, {})):
            for uid, roles in source.items():
                people.setdefault(uid, {PUBLIC}).update(roles)
        found[rec_id] = people
    return found


def digest_pass(now: datetime | None = None) -> int:
    """Once a day, from ``DIGEST_HOUR`` in the installation's time zone on, gather into one mail each
    person's notifications for the digest that arrived before that hour. What arrives later waits
    for the next day's digest, so a digest never goes out at another time of day because news came
    in; at most one digest per person and day (the mail's dedupe key). Returns how many it queued."""
    now = now or utcnow()
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")
    setting = current_app.config.get("DIGEST_HOUR", 7)
    try:
        hour = int(setting)
    except (TypeError, ValueError):
        hour = -1
    if not 0 <= hour <= 23:
        raise ValueError(f"DIGEST_HOUR (RATSCHLAG_DIGEST_HOUR) must be an hour from 0 to 23, not {setting!r}")
    local = now.replace(tzinfo=UTC).astimezone(zone)
    if local.hour < hour:
        return 0
    cutoff = datetime.combine(local.date(), time(hour), tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    gathered = and_(Notification.delivery == "digest", Notification.mail_id.is_(None), Notification.created_at < cutoff)
    waiting = db.session.execute(
        select(Notification.user_id, func.max(Notification.id)).where(gathered).group_by(Notification.user_id)
    ).all()
    db.session.rollback()
    queued = 0
    for uid, last in waiting:
        key = f"digest:{uid}:{local.date().isoformat()}"
        try:
            with write_transaction() as session:
                if session.scalar(select(Mail.id).where(Mail.dedupe_key == key)) is not None:
                    continue
                mail = new_mail(session, uid, "digest", dedupe_key=key)
                session.execute(
                    update(Notification)
                    .where(Notification.user_id == uid, gathered, Notification.id <= last)
                    .values(mail_id=mail.id)
                )
        except IntegrityError:  # PostgreSQL: another worker queued this person's digest at the same moment
            continue
        queued += 1
    return queued


def claim_mails(limit: int = 50, now: datetime | None = None, lease_seconds: int = 300) -> list[int]:
    """Take up to ``limit`` due mails for sending: marked ``sending`` until the lease ends, so a worker
    that dies leaves them to the next one when the lease is over (at-least-once; a mail keeps its
    Message-ID). The worker records each mail ``sent`` as soon as the server has accepted it
    (``SentRecorder``), so a worker killed mid-batch can send again only the mail that was in flight
    (docs/notifications.md). Several workers never take the same mail: PostgreSQL skips rows another
    worker has locked, and SQLite's write transactions run one at a time."""
    now = now or utcnow()
    with write_transaction() as session:
        found: list[int] = []
        for condition in (
            and_(Mail.status == "sending", Mail.locked_until < now),
            and_(Mail.status == "pending", Mail.next_attempt_at <= now),
        ):
            query = select(Mail.id).where(condition).order_by(Mail.next_attempt_at, Mail.id).limit(limit - len(found))
            if is_postgresql():
                query = query.with_for_update(skip_locked=True)
            found.extend(session.scalars(query))
            if len(found) >= limit:
                break
        if found:
            session.execute(
                update(Mail)
                .where(Mail.id.in_(found))
                .values(status="sending", locked_until=now + timedelta(seconds=lease_seconds), attempts=Mail.attempts + 1)
            )
    return found


def claim_mail(now: datetime | None = None, lease_seconds: int = 300) -> int | None:
    """Take the next due mail (``claim_mails`` for one)."""
    found = claim_mails(1, now, lease_seconds)
    return found[0] if found else None


def release_mails(mail_ids: list[int], retry_at: datetime) -> None:
    """Give back claimed mails that were not tried (the server went down first): queued again, the
    claim's attempt not counted."""
    if mail_ids:
        with write_transaction() as session:
            session.execute(
                update(Mail)
                .where(Mail.id.in_(mail_ids), Mail.status == "sending")
                .values(status="pending", locked_until=None, next_attempt_at=retry_at, attempts=Mail.attempts - 1)
            )


#: What a superuser may send again (the outbox page): a mail refused for good. Not a ``skipped``
#: one: it was skipped because nothing in it may be sent to its recipient any more (the subject
#: became invisible, the link is used up), and composing it again decides the same.
REQUEUEABLE = ("failed",)


def _requeue(session: Any, *where: Any) -> int:
    """Set the requeueable mails matching ``where`` pending, due now, attempts from zero; how many."""
    statement = (
        update(Mail)
        .where(Mail.status.in_(REQUEUEABLE), *where)
        .values(status="pending", next_attempt_at=utcnow(), attempts=0, locked_until=None)
    )
    return cast(CursorResult, session.execute(statement)).rowcount


def requeue_mail(actor: Any, mail_id: Any) -> Mail:
    """Queue a failed mail again, due now, its attempts counted from zero and its ``Message-ID``
    kept (the receiving side can tell it is the same mail). Anything else changes nothing."""
    require_superuser(actor)
    with write_transaction() as session:
        named = isinstance(mail_id, int) and mail_id > 0  # 0: what the URL's id converter makes of a number too large
        mail = session.get(Mail, mail_id) if named else None
        if mail is None:
            raise NotFound(_("There is no e-mail #%(id)s.", id=mail_id) if named else _("There is no such e-mail."))
        if _requeue(session, Mail.id == mail.id) != 1:
            raise ValidationError(_("E-mail #%(id)s was not sent again: only failed e-mails can be.", id=mail.id))
    current_app.logger.info("mail %s queued again by user %s", mail.id, getattr(actor, "id", None))
    return mail


def requeue_failed(actor: Any) -> int:
    """Queue every failed mail again (``requeue_mail`` for each); how many."""
    require_superuser(actor)
    with write_transaction() as session:
        count = _requeue(session)
    if count:
        current_app.logger.info("%s failed mails queued again by user %s", count, getattr(actor, "id", None))
    return count


_RECORD_SENT = (
    update(_MAILS)
    .where(_MAILS.c.id == bindparam("mail_id"))
    .values(status="sent", locked_until=None, last_error=None, sent_at=bindparam("now", type_=_MAILS.c.sent_at.type))
)


class SentRecorder:
    """Records claimed mails ``sent`` one at a time, each in a short transaction of its own, the
    moment the mail server has accepted one: the worker's record of what left, so a worker killed
    between two mails sends none of them again (docs/notifications.md).

    The cheapest correct way: a connection of its own, held across a batch, and one statement built
    once (no ORM session, no statement compiled per mail). On SQLite it queues with the other writers
    (BEGIN IMMEDIATE and the writer lock file, as ``write_transaction``); on PostgreSQL the row is
    the worker's by its claim: no other worker waits for it."""

    def __init__(self) -> None:
        self.connection: Any = None

    def __call__(self, mail_id: int) -> None:
        if self.connection is None:
            self.connection = db.engine.connect().execution_options(**{WRITE_OPTION: True})
        with ExitStack() as stack:
            if not is_postgresql():
                stack.enter_context(sqlite_lock_file("writer"))
            try:
                if is_postgresql():
                    # The worker's kill is what this record guards against, and the server has it once
                    # COMMIT returns; not waiting for the disk makes it 4x cheaper. Only a crash of the
                    # database server itself within a fraction of a second can forget it (the mail goes
                    # out again when the lease ends: at-least-once holds).
                    self.connection.exec_driver_sql("SET LOCAL synchronous_commit TO off")
                self.connection.execute(_RECORD_SENT, {"mail_id": mail_id, "now": utcnow()})
                self.connection.commit()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()  # rolls back anything not committed
            finally:
                self.connection = None


def finish_mail(mail_id: int, status: str, error: str | None = None, retry_at: datetime | None = None) -> None:
    """Record what became of one mail (``finish_mails`` for one)."""
    finish_mails([(mail_id, status, error, retry_at)])


def finish_mails(
    outcomes: list[tuple[int, str, str | None, datetime | None]],
    untried: list[int] | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Record what became of a batch of mails, in one transaction: each ``(id, status, error,
    retry_at)`` is ``sent``, ``failed`` (refused for good), ``skipped`` (nothing left its recipient
    may see), or ``pending`` again with the time of its next attempt; the ``untried`` ones are given
    back as ``release_mails`` does."""
    now = utcnow()
    rows = [
        {
            "mail_id": mail_id,
            "new_status": status,
            "new_error": (error or None) and error[:2000],
            "new_sent_at": now if status == "sent" else None,
            "new_next": (retry_at or now) if status == "pending" else None,
        }
        for mail_id, status, error, retry_at in outcomes
    ]
    if not rows and not untried:
        return
    with write_transaction() as session:
        if rows:
            session.execute(
                update(_MAILS)
                .where(_MAILS.c.id == bindparam("mail_id"))
                .values(
                    status=bindparam("new_status"),
                    locked_until=None,
                    last_error=bindparam("new_error"),
                    sent_at=func.coalesce(bindparam("new_sent_at", type_=_MAILS.c.sent_at.type), _MAILS.c.sent_at),
                    next_attempt_at=func.coalesce(
                        bindparam("new_next", type_=_MAILS.c.next_attempt_at.type), _MAILS.c.next_attempt_at
                    ),
                ),
                rows,
            )
        if untried:
            session.execute(
                update(Mail)
                .where(Mail.id.in_(untried), Mail.status == "sending")
                .values(status="pending", locked_until=None, next_attempt_at=retry_at or now, attempts=Mail.attempts - 1)
            )
