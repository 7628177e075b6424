"""What a notification says, in the reader's language: one line, plus the note where there is one.

Read when the notification is shown or sent (never stored as text), so titles and labels are
current and the language is the reader's. The caller makes sure the reader may see the subject.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import format_date, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import permissions
from ..extensions import db
from ..models import DECLINED, Notification, Recommendation
from ..roles import roles_for
from ..workflow import engine


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


def visible_notifications(
    user: Any, language: str, limit: int = 50, before: int | None = None
) -> list[tuple[Notification, Said]]:
    """A person's newest notifications with what they say, leaving out any whose subject they may no
    longer see (it moved to a state hidden from them). At most ``limit``, older than id ``before``."""
    query = (
        select(Notification)
        .where(Notification.user_id == user.id)
        .options(
            selectinload(Notification.recommendation).selectinload(Recommendation.process),
            selectinload(Notification.recommendation).selectinload(Recommendation.author_links),
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(Notification.id < before)
    shown = []
    for note in db.session.scalars(query):
        rec = note.recommendation
        if rec is not None and not permissions.can_view(roles_for(user, rec), engine().get(rec.process.workflow_id), rec.state):
            continue
        shown.append((note, describe(note, language)))
    return shown
