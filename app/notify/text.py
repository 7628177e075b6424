"""What a notification says, in the reader's language: one line, plus the note where there is one.

Read when the notification is shown or sent (never stored as text), so titles and labels are
current and the language is the reader's. The caller makes sure the reader may see the subject.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import format_date, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import permissions
from ..extensions import db
from ..models import DECLINED, Comment, Notification, Process, Recommendation, RecommendationAuthor, Statement, User
from ..roles import department_ids, holds_department_role, process_roles, roles_for
from ..workflow import engine
from ..workflow.definition import DEPARTMENT


@dataclass
class Said:
    line: str
    note: str | None
    path: str | None  # the page it is about, from the site's root


def one_line(value: str, limit: int = 200) -> str:
    """No line breaks or other control characters (they would break a mail header), at most ``limit``."""
    flat = "".join(ch if ch.isprintable() else " " for ch in value)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def recommendation_path(rec: Recommendation) -> str:
    return f"/processes/{rec.process.slug}/recommendations/{rec.number}"


def describe(note: Notification, language: str) -> Said:
    """The notification's line in ``language`` (call inside ``force_locale(language)``)."""
    data = json.loads(note.data or "{}")
    rec = note.recommendation
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    title = one_line(rec.title, 120) if rec is not None else ""
    actor = one_line(note.actor.name, 80) if note.actor is not None else _("Someone")
    path = recommendation_path(rec) if rec is not None else None
    workflow = engine().workflows.get(rec.process.workflow_id) if rec is not None else None

    def state(name: str | None) -> str:
        if workflow is None or name is None or name not in workflow.states:
            return name or ""
        return workflow.states[name].label.text(language, default)

    event, kind = note.event, note.kind
    if event == "transition" and data.get("from") is None:
        line = _("%(actor)s wrote “%(title)s” (%(state)s).", actor=actor, title=title, state=state(data.get("to")))
    elif event == "transition" and kind == "your_turn":
        line = _("“%(title)s” is now %(state)s: it is your turn.", title=title, state=state(data.get("to")))
    elif event == "transition":
        line = _(
            "%(actor)s moved “%(title)s” from %(source)s to %(dest)s.",
            actor=actor,
            title=title,
            source=state(data.get("from")),
            dest=state(data.get("to")),
        )
    elif event == "coauthor":
        line = _("%(actor)s invited you as a co-author of “%(title)s”.", actor=actor, title=title)
    elif event == "comment" and kind == "reply":
        line = _("%(actor)s replied to your comment on “%(title)s”.", actor=actor, title=title)
        path = f"{path}#comment-{note.comment_id}" if path else path
    elif event == "comment":
        line = _("%(actor)s commented on “%(title)s”.", actor=actor, title=title)
        path = f"{path}#comment-{note.comment_id}" if path else path
    elif event == "report":
        line = _("A comment on “%(title)s” was reported to the moderators.", title=title)
        path = "/moderation"
    elif event == "statement" and kind == "statement":
        line = _(
            "%(department)s is asked for a statement on “%(title)s”.",
            department=one_line(data.get("department", ""), 120),
            title=title,
        )
        path = "/statements"
    elif event == "statement":
        line = (
            _(
                "%(department)s declined to give a statement on “%(title)s”.",
                department=one_line(data.get("department", ""), 120),
                title=title,
            )
            if data.get("status") == DECLINED
            else _(
                "%(department)s gave a statement on “%(title)s”.",
                department=one_line(data.get("department", ""), 120),
                title=title,
            )
        )
    elif event in ("reminder", "overdue"):
        due = datetime.strptime(data["due_at"], "%Y-%m-%dT%H:%M:%SZ")
        line = (
            _(
                "A decision on “%(title)s” (%(state)s) is due on %(date)s.",
                title=title,
                state=state(data.get("state")),
                date=format_date(due, "long"),
            )
            if event == "reminder"
            else _(
                "The decision on “%(title)s” (%(state)s) was due on %(date)s and is overdue.",
                title=title,
                state=state(data.get("state")),
                date=format_date(due, "long"),
            )
        )
    else:
        line = _("Something changed on “%(title)s”.", title=title)
    return Said(line, data.get("note") if kind in ("authored", "your_turn", "followed") else None, path)


def may_still_see(
    user: Any,
    roles: frozenset[str],
    workflow_id: str,
    state: str,
    kind: str,
    comment_id: int | None,
    statement_id: int | None,
) -> bool:
    """Whether ``user``, holding ``roles`` for a recommendation of ``workflow_id`` now in ``state``,
    may still see what a notification about it is about: the recommendation in that state, the
    comment (not hidden since, except for the moderators' ``report``; an internal one only for whom
    it is meant), the statement (an internal one only for the department and the steering round).
    The one predicate of the bell's count, the notifications page, the API and the e-mails."""
    if not permissions.can_view(roles, engine().get(workflow_id), state):
        return False
    if comment_id is not None:
        comment = db.session.get(Comment, comment_id)
        if comment is None or comment.hidden and kind != "report" or not permissions.can_read_comment(roles, comment):
            return False
    if statement_id is not None:
        statement = db.session.get(Statement, statement_id)
        if statement is None or not permissions.can_read_statement(
            roles, statement, statement.department_id in department_ids(user)
        ):
            return False
    return True


def still_visible(note: Notification, user: Any, known: dict | None = None) -> bool:
    """``may_still_see`` for one notification (``known`` remembers roles across calls)."""
    rec = note.recommendation
    if rec is None:
        return True
    known = {} if known is None else known
    if (user.id, rec.id) not in known:
        known[(user.id, rec.id)] = roles_for(user, rec)
    return may_still_see(
        user, known[(user.id, rec.id)], rec.process.workflow_id, rec.state, note.kind, note.comment_id, note.statement_id
    )


_CHUNK = 500  # ids per IN (...) list


def visible_ids(user: Any, unread_only: bool = False, limit: int | None = None, before: int | None = None) -> list[int]:
    """The ids of a person's notifications they may still see (``may_still_see``), newest first.

    One statement reads them with their recommendation's state, workflow and whether the person is
    one of its authors (the roles come from the request's cache, as ``roles_for`` takes them); the
    comments and statements they name are loaded once each, only when there are any. Read ``_SCAN``
    at a time, newest first, until ``limit`` are found (older than id ``before``): a person with
    thousands of notifications costs what the page shows, not what they ever got."""
    authored = (
        select(RecommendationAuthor.user_id)
        .where(RecommendationAuthor.recommendation_id == Notification.recommendation_id, RecommendationAuthor.user_id == user.id)
        .exists()
    )
    query = (
        select(
            Notification.id,
            Notification.kind,
            Notification.comment_id,
            Notification.statement_id,
            Notification.recommendation_id,
            Recommendation.state,
            Recommendation.process_id,
            Process.workflow_id,
            authored,
        )
        .outerjoin(Recommendation, Recommendation.id == Notification.recommendation_id)
        .outerjoin(Process, Process.id == Recommendation.process_id)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    shown: list[int] = []
    while True:
        batch = query if before is None else query.where(Notification.id < before)
        rows = db.session.execute(batch.limit(_SCAN)).all()
        shown += _visible(user, rows)
        if (limit is not None and len(shown) >= limit) or len(rows) < _SCAN:
            return shown[:limit] if limit is not None else shown
        before = rows[-1].id


def _visible(user: Any, rows: Sequence[Any]) -> list[int]:
    for model, ids in (
        (Comment, sorted({row.comment_id for row in rows if row.comment_id is not None})),
        (Statement, sorted({row.statement_id for row in rows if row.statement_id is not None})),
    ):
        for start in range(0, len(ids), _CHUNK):  # into the identity map, where may_still_see finds them
            db.session.scalars(select(model).where(model.id.in_(ids[start : start + _CHUNK]))).all()
    shown = []
    for row in rows:
        if row.recommendation_id is not None:
            roles = process_roles(user, row.process_id)
            if row[-1]:
                roles = roles | {"author"}
            if holds_department_role(user, row.recommendation_id):
                roles = roles | {DEPARTMENT}
            if not may_still_see(user, roles, row.workflow_id, row.state, row.kind, row.comment_id, row.statement_id):
                continue
        shown.append(row.id)
    return shown


#: The bell counts up to this many ("99+" beyond); the notifications page lists up to PAGE_CAP.
BELL_CAP = 100
PAGE_CAP = 1_000
_SCAN = 500


def unread_count(user: Any) -> int:
    """The bell's number: unread notifications the person may still see, at most ``BELL_CAP``
    (``user``: the person or their id)."""
    person = db.session.get(User, user) if type(user) is int else user
    return 0 if person is None else len(visible_ids(person, unread_only=True, limit=BELL_CAP))


def described(user: Any, language: str, ids: list[int]) -> list[tuple[Notification, Said]]:
    """The notifications ``ids`` (in that order) with what they say."""
    notes = {
        note.id: note
        for note in db.session.scalars(
            select(Notification)
            .where(Notification.id.in_(ids))
            .options(
                selectinload(Notification.recommendation).selectinload(Recommendation.process),
                selectinload(Notification.recommendation).selectinload(Recommendation.author_links),
            )
        )
    }
    return [(notes[i], describe(notes[i], language)) for i in ids if i in notes]


def visible_notifications(
    user: Any, language: str, limit: int = 50, before: int | None = None
) -> list[tuple[Notification, Said]]:
    """A person's newest notifications with what they say, leaving out any whose subject they may no
    longer see (``may_still_see``). At most ``limit``, older than id ``before``."""
    return described(user, language, visible_ids(user, limit=limit, before=before))
