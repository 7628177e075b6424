"""Comments, their threads, hiding and reports."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, permissions
from ..errors import Forbidden, NotFound, ValidationError
from ..extensions import db
from ..ids import MAX_ID
from ..models import Comment, CommentReport, CommentRevision, User, utcnow
from ..roles import roles_for, user_id
from ..threads import check_reply_depth
from ..transactions import write_transaction
from . import notifications
from .recommendations import recommendation_for_change, workflow_of
from .validation import COMMENT_MAX, NOTE_MAX, clean_text, render_ahead


def create_comment(recommendation_id: int, actor: User, body: Any, parent_id: Any = None, visibility: Any = "public") -> Comment:
    body_html = render_ahead(body, COMMENT_MAX)
    with write_transaction() as session:
        rec, workflow, roles = recommendation_for_change(recommendation_id, actor)
        if visibility not in ("public", "internal"):
            raise ValidationError(_("visibility must be 'public' or 'internal'"))
        if not permissions.can_comment(roles, visibility):
            raise Forbidden(
                _("only the process's moderators and administrators write internal notes")
                if visibility == "internal"
                else _("only the process's members, moderators, administrators and the authors may comment")
            )
        body = clean_text(body, "body", COMMENT_MAX)
        if parent_id is not None:
            parent = session.get(Comment, parent_id) if type(parent_id) is int and 0 < parent_id <= MAX_ID else None
            if parent is None or parent.recommendation_id != rec.id or not permissions.can_read_comment(roles, parent):
                raise ValidationError(_("parent_id: there is no comment %(id)s on this recommendation", id=parent_id))
            if parent.visibility == "internal" and visibility != "internal":
                raise ValidationError(_("a reply to an internal note must be internal too"))
            check_reply_depth(parent.id)
        comment = Comment(
            recommendation_id=rec.id,
            parent_id=parent_id,
            author_id=actor.id,
            body=body,
            body_html=body_html,
            visibility=visibility,
            created_at=utcnow(),
        )
        session.add(comment)
        audit.record("comment.created", comment, actor, {"body": body, "visibility": visibility, "parent_id": parent_id})
        notifications.on_comment(session, comment, rec, workflow, actor)
    return comment


def lock_comment(comment_id: int, actor: Any) -> tuple[Comment, frozenset[str]]:
    """Load and lock a comment for a change; 404 unless ``actor`` may read it."""
    comment = db.session.scalars(
        select(Comment).where(Comment.id == comment_id).with_for_update(of=Comment).execution_options(populate_existing=True)
    ).first()
    if comment is None:
        raise NotFound(_("there is no comment %(id)s", id=comment_id))
    rec = comment.recommendation
    roles = roles_for(actor, rec)
    if not (permissions.can_view(roles, workflow_of(rec.process), rec.state) and permissions.can_read_comment(roles, comment)):
        raise NotFound(_("there is no comment %(id)s", id=comment_id))
    return comment, roles


def hide_comment(comment_id: int, actor: User, reason: Any) -> Comment:
    """Hide a comment with a reason. Checks: visible (404), moderator (403), reason (422)."""
    with write_transaction() as session:
        comment, roles = lock_comment(comment_id, actor)
        if not permissions.can_hide_comment(roles):
            raise Forbidden(_("only the process's moderators may hide comments"))
        reason = clean_text(reason, "reason", NOTE_MAX)
        if comment.hidden:
            raise ValidationError(_("comment %(id)s is hidden already", id=comment_id))
        comment.hidden, comment.hidden_reason = True, reason
        comment.hidden_by_id, comment.hidden_at = actor.id, utcnow()
        for report in session.scalars(
            select(CommentReport).where(CommentReport.comment_id == comment.id, CommentReport.resolved_at.is_(None))
        ):
            report.resolved_at = comment.hidden_at
        audit.record("comment.hidden", comment, actor, {"reason": reason})
    return comment


def edit_comment(comment_id: int, actor: User, body: Any) -> Comment:
    """The author edits their own comment; the earlier text is kept."""
    body_html = render_ahead(body, COMMENT_MAX)
    with write_transaction() as session:
        comment, _roles = lock_comment(comment_id, actor)
        if not permissions.can_edit_comment(user_id(actor), comment):
            raise Forbidden(_("only its author may edit a comment, and not once it is hidden"))
        body = clean_text(body, "body", COMMENT_MAX)
        assert body_html is not None  # rendered whenever clean_text accepts the text
        if body == comment.body:
            return comment
        now = utcnow()
        session.add(CommentRevision(comment_id=comment.id, body=comment.body, body_html=comment.body_html, replaced_at=now))
        audit.record("comment.edited", comment, actor, {"changes": {"body": [comment.body, body]}})
        comment.body, comment.body_html, comment.edited_at = body, body_html, now
    return comment


def report_comment(comment_id: int, actor: User, reason: Any) -> CommentReport:
    """Report a comment to the process's moderators, with a reason."""
    with write_transaction() as session:
        comment, roles = lock_comment(comment_id, actor)
        if not permissions.can_comment(roles, "public"):
            raise Forbidden(_("only the process's participants may report comments"))
        reason = clean_text(reason, "reason", NOTE_MAX)
        if comment.hidden:
            raise ValidationError(_("this comment is hidden already"))
        report = CommentReport(comment_id=comment.id, reporter_id=actor.id, reason=reason, created_at=utcnow())
        session.add(report)
        # The reporter is named inside the salted payload, not as the event's actor: the actor is
        # hashed in the clear, and a withheld actor could be found by trying every user id.
        audit.record("comment.reported", report, None, {"comment_id": comment.id, "reason": reason, "user_id": actor.id})
        notifications.on_report(session, comment, comment.recommendation, workflow_of(comment.recommendation.process), actor)
    return report


def dismiss_report(report_id: int, actor: User) -> CommentReport:
    """A moderator closes a report without hiding the comment."""
    with write_transaction() as session:
        report = session.get(CommentReport, report_id)
        if report is None:
            raise NotFound(_("there is no report %(id)s", id=report_id))
        _comment, roles = lock_comment(report.comment_id, actor)
        if not permissions.can_hide_comment(roles):
            raise Forbidden(_("only the process's moderators handle reports"))
        # Read again under the comment's lock: the object the request loaded before may be stale,
        # and another moderator may have dismissed it since (one report, one dismissal event).
        report = session.scalars(
            select(CommentReport).where(CommentReport.id == report_id).execution_options(populate_existing=True)
        ).one()
        if report.resolved_at is not None:
            raise ValidationError(_("this report is closed already"))
        report.resolved_at = utcnow()
        audit.record("comment.report_dismissed", report, actor, {"comment_id": report.comment_id})
    return report
