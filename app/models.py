"""What is: SQLAlchemy 2.0 typed models.

Timestamps are naive UTC datetimes; the API writes them with a trailing ``Z``.
The audit table keeps its timestamp and data as the exact strings that were
hashed (see app/audit.py).
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db

if TYPE_CHECKING:  # db.Model is made at run time; type checkers see its declarative base
    from .extensions import Base as Model
else:
    Model = db.Model

ROLES = ("member", "moderator", "administrator")
VISIBILITIES = ("public", "internal")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def email_form(email: str) -> str:
    """An e-mail address as stored and shown: stripped, in Unicode NFC."""
    return unicodedata.normalize("NFC", email.strip())


def email_key(email: str) -> str:
    """What makes two e-mail addresses the same account: Unicode canonical caseless matching
    (case folding between decompositions), composed again. ``Ärger@x.de`` and ``ärger@X.DE``
    (precomposed or not) have one key. The address itself is stored as typed (``email_form``),
    since folding would change it (``ß`` folds to ``ss``) and mail goes to what was typed."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", email.strip()).casefold())


class User(UserMixin, Model):
    __tablename__ = "users"
    audit_subject_type = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    # ``email_key(email)``, unique (migration 0011); kept in step by ``_set_email`` below.
    email_key: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Part of every session and remember-me cookie; replaced on password change,
    # which ends every session of the user.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(16))
    #: The language of the person's e-mails; None: the installation's default.
    language: Mapped[str | None] = mapped_column(String(8))
    # Set when the person was erased (app/services/erasure.py): the name is then a pseudonym.
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: A resident who sent a concern without an account (app/services/intake.py): no password, no
    #: sign-in; followed by a private status link. Becomes an ordinary account when the person sets a
    #: password through an invitation or a reset link sent to the same address.
    resident: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: The affiliation group the person chose to state (one of ``AFFILIATION_GROUPS``), or None.
    #: Shown only counted, in groups of at least five (docs/evaluation.md).
    affiliation: Mapped[str | None] = mapped_column(String(100))

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    #: The secret of the sign-in this object was loaded for (set by app/services/signins.py), part of
    #: the cookie's id; None outside a signed-in request.
    session_secret = None

    @validates("email")
    def _set_email(self, _key: str, value: str) -> str:
        self.email_key = email_key(value)
        return email_form(value)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: the session cookie's and the remember cookie's content
        return f"{self.id}.{self.session_token}.{self.session_secret or ''}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


# One account per address, whatever its case and Unicode form, on both databases.
Index("uq_users_email_key", User.email_key, unique=True)


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


class SignIn(Model):
    """One sign-in: the cookie names it, signing out deletes it (app/services/signins.py).

    Only a hash of its secret is stored, as for API tokens."""

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Throttle(Model):
    """Failed sign-ins and password checks, counted per key in the database so that every worker
    and server shares them (app/services/throttle.py). ``key`` is an HMAC of the scope's subject
    (address, account, or both), never the address or e-mail itself."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ApiToken(Model):
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


#: Where a procedure stands in the overview of procedures (Vorhabenliste).
PROCESS_STATUSES = ("planned", "running", "finished")
#: How far the public takes part: informed, consulted, or deciding with the administration.
PARTICIPATION_LEVELS = ("inform", "consult", "co-decide")


class Process(Model):
    __tablename__ = "processes"
    audit_subject_type = "process"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'running', 'finished')", name="status"),
        CheckConstraint("participation IS NULL OR participation IN ('inform', 'consult', 'co-decide')", name="participation"),
        CheckConstraint("starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        Index("ix_processes_status_title", "status", "title"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    workflow_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The overview of procedures (docs/operations.md): Markdown as written and its safe HTML.
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    participation: Mapped[str | None] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(String(500), default="")
    # A JSON list of {"title", "url"}; http and https only (app/services/processes.py checks them).
    links_json: Mapped[str] = mapped_column(Text, default="[]")

    @property
    def links(self) -> list[dict[str, str]]:
        return json.loads(self.links_json or "[]")


class Membership(Model):
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


class RecommendationAuthor(Model):
    __tablename__ = "recommendation_authors"

    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    user: Mapped[User] = relationship(lazy="joined")


class Recommendation(Model):
    __tablename__ = "recommendations"
    audit_subject_type = "recommendation"
    __table_args__ = (
        UniqueConstraint("process_id", "number", name="uq_recommendations_process_number"),
        # Serves every list: visibility and state filters, ordered by number, counted index-only.
        Index("ix_recommendations_process_state_number", "process_id", "state", "number"),
        # Serves "overdue now" in the evaluation figures: counted per process from the index alone.
        Index("ix_recommendations_process_due_state", "process_id", "due_at", "state"),
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
    #: The process's category it was filed under, routing it to a department (docs/workflows.md).
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)

    process: Mapped[Process] = relationship()
    category: Mapped[Category | None] = relationship()
    author_links: Mapped[list[RecommendationAuthor]] = relationship(
        order_by=RecommendationAuthor.position, cascade="all, delete-orphan"
    )
    decision: Mapped[Decision | None] = relationship(back_populates="recommendation", uselist=False)

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
    def category_slug(self) -> str | None:
        return self.category.slug if self.category is not None else None

    @property
    def category_name(self) -> str | None:
        return self.category.name if self.category is not None else None

    @property
    def workflow_id(self) -> str:
        return self.process.workflow_id


#: Numbers per block in ``RecommendationCount``: a list page is read from the block where it starts.
COUNT_BLOCK = 1000


class RecommendationCount(Model):
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


class RecommendationRevision(Model):
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


class Decision(Model):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The steering round's session the decision was taken in, if any.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("steering_sessions.id"))

    recommendation: Mapped[Recommendation] = relationship(back_populates="decision")
    decided_by: Mapped[User] = relationship(lazy="joined")


class Comment(Model):
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


class CommentRevision(Model):
    """The earlier text of an edited comment, one row per edit."""

    __tablename__ = "comment_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CommentReport(Model):
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


class AuditEvent(Model):
    """One link of the installation's hash chain (docs/auditing.md). Never updated or deleted,
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


class Department(Model):
    """A unit of the administration (Fachbereich, Fachamt), installation-wide, with members."""

    __tablename__ = "departments"
    audit_subject_type = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: A deactivated department is asked nothing new; categories routed to it fall back to moderators.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    members: Mapped[list[DepartmentMember]] = relationship(back_populates="department", order_by="DepartmentMember.id")


class DepartmentMember(Model):
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


class Statement(Model):
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
        Index(
            "uq_statements_open_request",
            "recommendation_id",
            "department_id",
            unique=True,
            sqlite_where=text("status = 'requested'"),
            postgresql_where=text("status = 'requested'"),
        ),
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


class AnswerTemplate(Model):
    """A process's own answer template for the decisions that lead into one state, in place of the
    workflow file's ``answer_template`` (docs/workflows.md)."""

    __tablename__ = "answer_templates"
    __table_args__ = (UniqueConstraint("process_id", "state", name="uq_answer_templates_process_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    state: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


#: A session's status: open (its agenda and decisions may change) or closed (its minutes are frozen).
OPEN, CLOSED = SESSION_STATUSES = ("open", "closed")


class SteeringSession(Model):
    """A session (Sitzung) of the steering round: a date, a place, who attended, an agenda of
    recommendations decided item by item, and minutes frozen when it closes."""

    __tablename__ = "steering_sessions"
    audit_subject_type = "session"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_steering_sessions_process_held", "process_id", "held_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    title: Mapped[str] = mapped_column(String(200))
    held_at: Mapped[datetime] = mapped_column(DateTime)
    place: Mapped[str] = mapped_column(String(200), default="")
    participants: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: ``SEQ:HASH`` of the audit chain's head just before the ``session.closed`` event.
    chain_head: Mapped[str | None] = mapped_column(String(80))
    #: JSON, written once when the session closes: each agenda item as the minutes show it then
    #: (app/services/sessions.py ``minutes_items``). People are kept by id, so an erased person's
    #: name is gone from the minutes with the person; erasure also blanks the name in its texts.
    minutes_json: Mapped[str | None] = mapped_column(Text)

    process: Mapped[Process] = relationship()
    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="session", order_by="AgendaItem.position", cascade="all, delete-orphan"
    )
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @property
    def closed(self) -> bool:
        return self.status == CLOSED


class AgendaItem(Model):
    """One item (TOP) of a session's agenda: a recommendation, and what the session did with it."""

    __tablename__ = "agenda_items"
    __table_args__ = (
        UniqueConstraint("session_id", "recommendation_id", name="uq_agenda_items_session_recommendation"),
        Index("ix_agenda_items_recommendation", "recommendation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("steering_sessions.id"))
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"))
    position: Mapped[int] = mapped_column(Integer)
    # Written by the decision taken in the session (in the transition's own transaction).
    trigger: Mapped[str | None] = mapped_column(String(64))
    result_state: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    session: Mapped[SteeringSession] = relationship(back_populates="items")
    recommendation: Mapped[Recommendation] = relationship(lazy="joined")
    decided_by: Mapped[User | None] = relationship(lazy="joined")


#: Where the implementation of an adopted recommendation stands.
FOLLOW_UP_STATUSES = ("planned", "in_progress", "done", "stalled")


class FollowUp(Model):
    """One dated report on the implementation (Umsetzung) of an adopted recommendation; the newest
    report is where it stands, ``next_due_at`` when the next report is due."""

    __tablename__ = "follow_ups"
    audit_subject_type = "follow_up"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'in_progress', 'done', 'stalled')", name="status"),
        Index("ix_follow_ups_recommendation_id", "recommendation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    recommendation: Mapped[Recommendation] = relationship()
    department: Mapped[Department | None] = relationship(lazy="joined")
    author: Mapped[User] = relationship(lazy="joined")


# -- notifications and e-mail (docs/notifications.md) ---------------------------------------

#: What a person may be told of; each kind is set per person to immediate, digest or off.
NOTIFICATION_KINDS = ("your_turn", "authored", "statement", "reply", "deadline", "report", "followed")
DELIVERY_MODES = ("immediate", "digest", "off")
#: Every kind is sent at once unless the person says otherwise, except ``followed`` (a daily digest).
DEFAULT_MODES = {kind: "digest" if kind == "followed" else "immediate" for kind in NOTIFICATION_KINDS}
#: A mail's life: queued, being sent (claimed by a worker until ``locked_until``), sent, failed
#: (a permanent refusal), or skipped (its recipient may no longer see what it is about).
MAIL_STATUSES = ("pending", "sending", "sent", "failed", "skipped")


class Mail(Model):
    """One e-mail in the transactional outbox: written in the transaction of the change that causes
    it, sent later by ``ratschlag worker``. Its ``message_id`` is fixed here, so a retry reuses it."""

    __tablename__ = "mails"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name="status"),
        # The worker's claim: what is due, oldest first.
        Index("ix_mails_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: A notification kind, ``digest``, ``invitation``, ``password_reset``, ``intake_confirmation``
    #: (the link that confirms a public submission) or ``intake_confirmed`` (its private status link).
    kind: Mapped[str] = mapped_column(String(32))
    #: Makes a mail the worker computes (a digest) idempotent: at most one per key.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    user_token_id: Mapped[int | None] = mapped_column(ForeignKey("user_tokens.id"))
    #: The public submission a mail is about (``intake_confirmation``, ``intake_confirmed``).
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Notification(Model):
    """Something a person is told in the application (the bell), and by e-mail through ``mail_id``."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("kind IN ('your_turn', 'authored', 'statement', 'reply', 'deadline', 'report', 'followed')", name="kind"),
        CheckConstraint("delivery IN ('pending', 'immediate', 'digest', 'off')", name="delivery"),
        Index("ix_notifications_user_id", "user_id", "id"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        # The routing and digest passes: what waits for them.
        Index("ix_notifications_digest", "delivery", "mail_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    #: What happened: ``transition``, ``comment``, ``report``, ``statement``, ``reminder``, ``overdue``.
    event: Mapped[str] = mapped_column(String(16))
    recommendation_id: Mapped[int | None] = mapped_column(ForeignKey("recommendations.id"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: JSON: what the text needs (trigger, from, to, note, department ...).
    data: Mapped[str] = mapped_column(Text, default="{}")
    #: ``pending`` until the worker routes it by the person's setting: ``immediate`` (its own mail,
    #: ``mail_id``), ``digest`` (``mail_id`` set once the digest is queued) or ``off``.
    delivery: Mapped[str] = mapped_column(String(16), default="pending")
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mails.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)

    recommendation: Mapped[Recommendation | None] = relationship()
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")


class NotificationSetting(Model):
    """A person's choice for one kind; a kind without a row follows ``DEFAULT_MODES``."""

    __tablename__ = "notification_settings"
    __table_args__ = (CheckConstraint("mode IN ('immediate', 'digest', 'off')", name="mode"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))


class Follow(Model):
    """A person follows a recommendation or a whole process (exactly one of the two)."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("(recommendation_id IS NULL) <> (process_id IS NULL)", name="one_subject"),
        UniqueConstraint("user_id", "recommendation_id", name="uq_follows_user_recommendation"),
        UniqueConstraint("user_id", "process_id", name="uq_follows_user_process"),
        Index("ix_follows_recommendation", "recommendation_id"),
        Index("ix_follows_process", "process_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recommendation_id: Mapped[int | None] = mapped_column(ForeignKey("recommendations.id"))
    process_id: Mapped[int | None] = mapped_column(ForeignKey("processes.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DeadlineMark(Model):
    """That the worker has told of a deadline (``reminder``) or of its passing (``overdue``): the
    primary key makes each pass idempotent, however often and by however many workers it runs."""

    __tablename__ = "deadline_marks"

    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UserToken(Model):
    """A single-use link to set a password (``invitation``) or reset it (``password_reset``).

    Only the SHA-256 of the link's secret is kept. The secret itself is an HMAC of the row's id and
    ``nonce`` under the installation's secret key, so the worker can write it into the e-mail while
    the database alone cannot produce a working link.
    """

    __tablename__ = "user_tokens"
    __table_args__ = (CheckConstraint("purpose IN ('invitation', 'password_reset')", name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(lazy="joined")


class Submission(Model):
    """A concern sent through public intake (``intake: public``; app/services/intake.py).

    Until its e-mail address is confirmed it holds what was typed and nothing of it is visible
    anywhere; the worker deletes it with its data once ``expires_at`` passes. Confirming creates the
    recommendation and blanks ``name``, ``title`` and ``body`` here (they live on in the
    recommendation and its author). Only SHA-256 hashes of the two link secrets are stored: the
    single-use confirmation link (``token_hash``, NULL once used) and the private status link.
    """

    __tablename__ = "submissions"
    audit_subject_type = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    #: Whom the confirmation goes to: a resident (``User.resident``) or the account of that address.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    #: The category the resident chose (routed to a department once the concern is created), or None.
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    status_nonce: Mapped[str] = mapped_column(String(64))
    status_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    recommendation_id: Mapped[int | None] = mapped_column(ForeignKey("recommendations.id"), index=True)

    process: Mapped[Process] = relationship()
    user: Mapped[User] = relationship()
    recommendation: Mapped[Recommendation | None] = relationship()


class ChainCheck(Model):
    """A verification of the whole audit chain, asked for on the administration page and run by
    the worker (``ratschlag worker``), outside any web request: when it was asked for and by whom,
    when it ran, and what it found (``audit.Verification``)."""

    __tablename__ = "chain_checks"
    audit_subject_type = "chain_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    events: Mapped[int | None] = mapped_column(Integer)  # how many events it checked
    head_seq: Mapped[int | None] = mapped_column(Integer)
    head_hash: Mapped[str | None] = mapped_column(String(64))
    bad_seq: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    erased: Mapped[int | None] = mapped_column(Integer)
    anchors: Mapped[int | None] = mapped_column(Integer)


# -- categories and the evaluation figures (docs/evaluation.md) -------------------------------


class Category(Model):
    """A process's category, routed to a department: an item filed under it is the department's to
    answer (a statement is requested from it when the item enters a state that takes statements)."""

    __tablename__ = "categories"
    audit_subject_type = "category"
    __table_args__ = (UniqueConstraint("process_id", "slug", name="uq_categories_process_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def routed_department(self) -> Department | None:
        """Where items of this category go: its department while that is active, else None (the
        process's moderators)."""
        return self.department if self.department is not None and self.department.active else None


class StatisticsCounter(Model):
    """One counter of the evaluation figures, kept by database triggers (migration 0016) in the
    transaction of every change; the application only reads it (app/statistics.py)."""

    __tablename__ = "statistics_counters"

    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, nullable=False)
