"""Who may read what of the audit trail (docs/auditing.md), wherever events are shown.

The events endpoint, the admin audit page, ``ratschlag audit export --public`` and a process's
public download all ask a ``Reader``. Every event stays listed where its list is shown, with its
``data_digest`` and hashes, so the chain stays checkable; what the event says (``data`` and
``salt``) only to whoever may read what it describes, decided by the rules in
``app.permissions``:

- a recommendation's events: whoever may see the recommendation now;
- a comment's events: whoever may read its text (internal notes: moderators and administrators;
  hidden comments: moderators), a hiding reason wherever the comment is readable;
- reports (``comment.reported``, ``comment.report_dismissed``): the process's moderators only,
  and to anyone else they name no actor either;
- a process created or its overview changed, a session, a category: everyone (they are public on
  the process's pages); a process's answer templates (``process.answer_template_set``): its
  administrators only;
- people, roles and API tokens: superusers, who administer them.

Events are judged in batches, with one query per kind of subject, so that a stream of a million
events is judged in flat memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from . import permissions
from .extensions import db
from .models import Comment, CommentReport, Process, Recommendation, RecommendationAuthor, Statement
from .roles import department_ids, process_roles, user_id
from .workflow import engine

BATCH = 2000
#: Subjects whose events are for superusers only (they administer them).
ADMINISTRATIVE = ("user", "api_token", "membership")
#: A process's events that say what only its administrators read: an answer template is their draft
#: of the steering round's answers (edited and read on a page of theirs alone), not a public text.
INTERNAL_PROCESS_ACTIONS = ("process.answer_template_set",)


@dataclass(frozen=True, slots=True)
class Shown:
    subject: bool  # the reader may see what the event is about
    data: bool  # ... and read what it says (data and salt)
    actor: bool  # ... and know who did it


EVERYTHING = Shown(True, True, True)
METADATA = Shown(True, False, True)


class Reader:
    """What one reader (a user, or None for an anonymous visitor) may read of audit events."""

    def __init__(self, user: Any = None):
        self.user = user if user_id(user) is not None else None
        self.superuser = self.user is not None and bool(self.user.is_superuser)
        self._processes: dict[int, tuple[Any, frozenset[str]]] = {}

    def _process(self, process_id: int) -> tuple[Any, frozenset[str]]:
        """The workflow of a process and the reader's roles in it, read once per process."""
        if process_id not in self._processes:
            workflow_id = db.session.execute(select(Process.workflow_id).where(Process.id == process_id)).scalar_one()
            self._processes[process_id] = (engine().get(workflow_id), process_roles(self.user, process_id))
        return self._processes[process_id]

    def judge(self, events: Sequence[Any]) -> list[Shown]:
        """What the reader may see of each event (models or rows with the event's fields)."""
        ids: dict[str, set[int]] = defaultdict(set)
        for event in events:
            if event.subject_id is not None:
                ids[event.subject_type].add(event.subject_id)
        reports = (
            dict(
                db.session.execute(
                    select(CommentReport.id, CommentReport.comment_id).where(CommentReport.id.in_(ids["comment_report"]))
                ).all()
            )
            if ids["comment_report"]
            else {}
        )
        comment_ids = ids["comment"] | set(reports.values())
        comments = (
            {
                c.id: c
                for c in db.session.execute(
                    select(Comment.id, Comment.recommendation_id, Comment.visibility, Comment.hidden).where(
                        Comment.id.in_(comment_ids)
                    )
                )
            }
            if comment_ids
            else {}
        )
        statements = (
            {
                s.id: s
                for s in db.session.execute(
                    select(Statement.id, Statement.recommendation_id, Statement.department_id, Statement.visibility).where(
                        Statement.id.in_(ids["statement"])
                    )
                )
            }
            if ids["statement"]
            else {}
        )
        rec_ids = (
            ids["recommendation"]
            | {c.recommendation_id for c in comments.values()}
            | {s.recommendation_id for s in statements.values()}
        )
        recs = (
            {
                r.id: r
                for r in db.session.execute(
                    select(Recommendation.id, Recommendation.process_id, Recommendation.state).where(
                        Recommendation.id.in_(rec_ids)
                    )
                )
            }
            if rec_ids
            else {}
        )
        authored: set[int] = set()
        if self.user is not None and recs:
            authored = set(
                db.session.scalars(
                    select(RecommendationAuthor.recommendation_id).where(
                        RecommendationAuthor.user_id == self.user.id, RecommendationAuthor.recommendation_id.in_(recs)
                    )
                )
            )
        return [self._one(event, recs, comments, reports, statements, authored) for event in events]

    def _one(self, event: Any, recs: dict, comments: dict, reports: dict, statements: dict, authored: set[int]) -> Shown:
        kind = event.subject_type
        if kind == "process" and event.action in INTERNAL_PROCESS_ACTIONS:
            # what the process's administrators keep for themselves (their answer templates)
            shown = event.subject_id is not None and permissions.can_manage_sessions(process_roles(self.user, event.subject_id))
            return Shown(True, shown, True)
        if kind in ("process", "session", "category"):  # sessions are public like their minutes, categories like the process
            return EVERYTHING
        if kind == "statement":
            return self._statement(statements.get(event.subject_id), recs)
        if kind not in ("recommendation", "comment", "comment_report"):
            return EVERYTHING if self.superuser else METADATA
        moderation = event.action in permissions.MODERATION_ACTIONS
        comment = None
        if kind == "recommendation":
            rec = recs.get(event.subject_id)
        else:
            comment = comments.get(reports.get(event.subject_id) if kind == "comment_report" else event.subject_id)
            rec = recs.get(comment.recommendation_id) if comment is not None else None
        if rec is None:  # its subject is gone: nothing to decide by, so nothing more is shown
            return Shown(False, False, not moderation)
        workflow, roles = self._process(rec.process_id)
        if rec.id in authored:
            roles = roles | {"author"}
        subject = permissions.can_view(roles, workflow, rec.state) and (
            comment is None or permissions.can_read_comment(roles, comment)
        )
        if moderation:  # only moderators know of reports, and of who made them
            subject = subject and permissions.can_hide_comment(roles)
            return Shown(subject, subject, subject)
        return Shown(subject, subject and permissions.can_read_event_data(roles, event.action, comment), True)

    def _statement(self, statement: Any, recs: dict) -> Shown:
        """A statement's events: for whoever sees its recommendation; an internal answer's text for the
        department's members and the process's moderators and administrators."""
        rec = recs.get(statement.recommendation_id) if statement is not None else None
        if rec is None:
            return Shown(False, False, True)
        workflow, roles = self._process(rec.process_id)
        in_department = statement.department_id in department_ids(self.user)
        if in_department:
            roles = roles | {"department"}
        subject = permissions.can_view(roles, workflow, rec.state)
        return Shown(subject, subject and permissions.can_read_statement(roles, statement, in_department), True)

    def judged(self, events: Iterable[Any], only_visible: bool = False) -> Iterator[tuple[Any, bool, bool]]:
        """``(event, data shown, actor shown)`` for a stream of events, judged in batches;
        ``only_visible`` leaves out the events whose subject the reader may not see."""
        batch: list[Any] = []
        for event in events:
            batch.append(event)
            if len(batch) == BATCH:
                yield from self._flush(batch, only_visible)
                batch = []
        yield from self._flush(batch, only_visible)

    def _flush(self, batch: list[Any], only_visible: bool) -> Iterator[tuple[Any, bool, bool]]:
        for event, shown in zip(batch, self.judge(batch), strict=True):
            if shown.subject or not only_visible:
                yield event, shown.data, shown.actor
