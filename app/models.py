"""What is: SQLAlchemy 2.0 typed models.

Timestamps are naive UTC datetimes; the API writes them with a trailing ``Z``.
The audit table keeps its timestamp and data as the exact strings that were
hashed (see app/audit.py).
"""
from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

ROLES = ("member", "moderator", "administrator")
VISIBILITIES = ("public", "internal")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    audit_subject_type = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Part of every session and remember-me cookie; replaced on password change,
    # which ends every session of the user.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    # Set when the person was erased (app/services/erasure.py): the name is then a pseudonym.
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)

    memberships: Mapped[list["Membership"]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login
        return f"{self.id}.{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


#: The name an erased person's account carries instead of theirs (docs/auditing.md#erasure). Pages
#: show it in the reader's language ("erased person 7"); the API gives it as stored.
PSEUDONYM = "Erased person {id}"
_PSEUDONYM = re.compile(r"Erased person ([1-9][0-9]*)")


def pseudonym(user_id: int) -> str:
    return PSEUDONYM.format(id=user_id)


def pseudonym_id(name: str | None) -> int | None:
    """The user id in an erased person's pseudonym, or None for any other name."""
    found = _PSEUDONYM.fullmatch(name) if isinstance(name, str) else None
    return int(found.group(1)) if found else None


# E-mail addresses are unique regardless of case.
Index("uq_users_email_lower", func.lower(User.email), unique=True)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    audit_subject_type = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


class Process(db.Model):
    __tablename__ = "processes"
    audit_subject_type = "process"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    workflow_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Membership(db.Model):
    __tablename__ = "memberships"
    audit_subject_type = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "process_id", "role", name="uq_memberships_user_process_role"),
        CheckConstraint("role IN ('member', 'moderator', 'administrator')", name="role"),
        Index("ix_memberships_process_user", "process_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    process: Mapped[Process] = relationship()


class RecommendationAuthor(db.Model):
    __tablename__ = "recommendation_authors"

    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    user: Mapped[User] = relationship(lazy="joined")


class Recommendation(db.Model):
    __tablename__ = "recommendations"
    audit_subject_type = "recommendation"
    __table_args__ = (
        UniqueConstraint("process_id", "number", name="uq_recommendations_process_number"),
        # Serves every list: visibility and state filters, ordered by number, counted index-only.
        Index("ix_recommendations_process_state_number", "process_id", "state", "number"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    state_entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    process: Mapped[Process] = relationship()
    author_links: Mapped[list[RecommendationAuthor]] = relationship(
        order_by=RecommendationAuthor.position, cascade="all, delete-orphan"
    )
    decision: Mapped["Decision | None"] = relationship(back_populates="recommendation", uselist=False)

    # Two clients that saw the same version cannot both write: the UPDATE names the version.
    __mapper_args__ = {"version_id_col": version}

    @property
    def authors(self) -> list[User]:
        return [link.user for link in self.author_links]

    # Read alike on this model and on ``queries.RecommendationView``, so answers and permission
    # checks take either.
    @property
    def author_ids(self) -> list[int]:
        return [link.user_id for link in self.author_links]

    @property
    def process_slug(self) -> str:
        return self.process.slug

    @property
    def workflow_id(self) -> str:
        return self.process.workflow_id


#: Numbers per block in ``RecommendationCount``: a list page is read from the block where it starts.
COUNT_BLOCK = 1000


class RecommendationCount(db.Model):
    """How many recommendations of a process are in a state, per block of 1,000 numbers.

    Kept by database triggers on ``recommendations`` (migration 0005), in the same transaction as
    every insert, state change and delete, so it is never out of step; the application only reads
    it. Lists count and page from it instead of scanning every row (app/queries.py).
    """
    __tablename__ = "recommendation_counts"

    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class RecommendationRevision(db.Model):
    """Every text version of a recommendation: revision 1 at creation, one more per edit."""

    __tablename__ = "recommendation_revisions"
    __table_args__ = (UniqueConstraint("recommendation_id", "revision", name="uq_revisions_recommendation_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"))
    revision: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Decision(db.Model):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    recommendation: Mapped[Recommendation] = relationship(back_populates="decision")
    decided_by: Mapped[User] = relationship(lazy="joined")


class Comment(db.Model):
    __tablename__ = "comments"
    audit_subject_type = "comment"
    __table_args__ = (
        CheckConstraint("visibility IN ('public', 'internal')", name="visibility"),
        Index("ix_comments_recommendation_id", "recommendation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime)
    edited_at: Mapped[datetime | None] = mapped_column(DateTime)

    recommendation: Mapped[Recommendation] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")


class CommentRevision(db.Model):
    """The earlier text of an edited comment, one row per edit."""

    __tablename__ = "comment_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CommentReport(db.Model):
    """A comment reported to moderation, open until a moderator hides the comment or dismisses the report."""

    __tablename__ = "comment_reports"
    audit_subject_type = "comment_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)

    comment: Mapped[Comment] = relationship(lazy="joined")
    reporter: Mapped[User] = relationship(lazy="joined")


class AuditEvent(db.Model):
    """One link of the installation's hash chain (CONTRACT.md section 5). Never updated or deleted,
    except that erasure may blank a v2 event's ``data`` and ``salt``."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    v: Mapped[int] = mapped_column(Integer, server_default="1")  # the event format: 1 or 2
    at: Mapped[str] = mapped_column(String(32))  # the exact string that was hashed
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    # Canonical JSON, exactly as hashed (v1) or digested (v2); NULL once a v2 payload is erased.
    data: Mapped[str | None] = mapped_column(Text)
    salt: Mapped[str | None] = mapped_column(String(32))  # v2: 32 hex characters; NULL once erased
    data_digest: Mapped[str | None] = mapped_column(String(64))  # v2: sha256(salt + data)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Department(db.Model):
    """A unit of the administration (Fachbereich, Fachamt), installation-wide, with members."""

    __tablename__ = "departments"
    audit_subject_type = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    members: Mapped[list["DepartmentMember"]] = relationship(back_populates="department",
                                                             order_by="DepartmentMember.id")


class DepartmentMember(db.Model):
    __tablename__ = "department_members"
    audit_subject_type = "department_member"
    __table_args__ = (
        UniqueConstraint("department_id", "user_id", name="uq_department_members_department_user"),
        # Serves the role lookup: which departments does this person belong to.
        Index("ix_department_members_user_department", "user_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department: Mapped[Department] = relationship(back_populates="members")
    user: Mapped[User] = relationship(lazy="joined")


#: A statement's status. Spelt as one string: a workflow may call its own states by these names, and
#: no code names a state (tests/workflow/test_generality.py).
REQUESTED, ANSWERED, DECLINED = STATEMENT_STATUSES = tuple("requested answered declined".split())


class Statement(db.Model):
    """A department's statement (Stellungnahme) on a recommendation: requested, then answered or declined.

    ``visibility`` is ``public`` until an answer says otherwise: a request and a refusal are
    read by whoever sees the recommendation; an internal answer only by the department's
    members and the process's moderators and administrators (app/permissions.py).
    """

    __tablename__ = "statements"
    audit_subject_type = "statement"
    __table_args__ = (
        CheckConstraint(f"status IN ({', '.join(map(repr, STATEMENT_STATUSES))})", name="status"),
        CheckConstraint("visibility IN ('public', 'internal')", name="visibility"),
        Index("ix_statements_recommendation_id", "recommendation_id", "id"),
        Index("ix_statements_department_status", "department_id", "status"),
        # At most one open request per recommendation and department, whatever races.
        Index("uq_statements_open_request", "recommendation_id", "department_id", unique=True,
              sqlite_where=text("status = 'requested'"), postgresql_where=text("status = 'requested'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    question: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    body: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    reason: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)

    recommendation: Mapped[Recommendation] = relationship()
    department: Mapped[Department] = relationship(lazy="joined")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id], lazy="joined")

    def overdue(self, now: datetime) -> bool:
        return self.status == "requested" and self.due_at is not None and self.due_at < now
