"""Services: every change to the data goes through one of these functions.

Each runs in one write transaction (``app.db.write_transaction``), checks the
actor's permissions, changes the models and appends exactly one audit event;
anything that fails rolls all of it back. State changes live in
``app.workflow.service.fire``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any, ClassVar

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, permissions, text
from .transactions import write_transaction
from .errors import Conflict, Forbidden, NotFound, ServiceError, ValidationError
from .extensions import db
from .ids import MAX_ID
from .models import (
    ApiToken,
    Comment,
    CommentReport,
    CommentRevision,
    Membership,
    Process,
    Recommendation,
    RecommendationAuthor,
    RecommendationRevision,
    User,
    utcnow,
)
from .workflow import engine
from .workflow.definition import Workflow

TITLE_MAX = 200
BODY_MAX = 100_000
COMMENT_MAX = 20_000
NOTE_MAX = 10_000
NAME_MAX = 200
PASSWORD_MIN = 10
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)

FIELDS = {"title": _l("title"), "body": _l("body"), "note": _l("note"), "reason": _l("reason"),
          "e-mail": _l("e-mail"), "name": _l("name"), "label": _l("label"), "slug": _l("slug")}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def clean_text(value: Any, field: str, max_length: int, required: bool = True,
               error: type[ServiceError] = ValidationError) -> str | None:
    """A submitted text, stripped; blank counts as missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise error(_("%(field)s must not be blank", field=FIELDS.get(field, field)))
        return None
    if not isinstance(value, str):
        raise ValidationError(_("%(field)s must be a string", field=FIELDS.get(field, field)))
    if "\x00" in value:
        raise ValidationError(_("%(field)s must not contain NUL characters", field=FIELDS.get(field, field)))
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError(_("%(field)s is longer than %(max)s characters", field=FIELDS.get(field, field), max=max_length))
    return value


# -- accounts -------------------------------------------------------------------


def find_user(email: str) -> User | None:
    return db.session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def create_user(email: str, name: str, password: str | None = None, superuser: bool = False,
                actor: User | None = None) -> tuple[User, str]:
    """Create a user; returns it and its password (generated when none is given)."""
    email = clean_text(email, "e-mail", 254)
    if not _EMAIL.match(email):
        raise ValidationError(_("'%(email)s' is not an e-mail address", email=email))
    name = clean_text(name, "name", NAME_MAX)
    if password is None:
        password = secrets.token_urlsafe(15)
    else:
        check_new_password(password, email, name)
    with write_transaction() as session:
        _require_superuser(actor)
        if find_user(email):
            raise ValidationError(_("a user with the e-mail %(email)s exists already", email=email))
        user = User(email=email, name=name, password_hash=hash_password(password),
                    is_superuser=superuser, active=True)
        session.add(user)
        audit.record("user.created", user, actor, {"email": email, "name": name, "superuser": superuser})
    return user, password


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(user: User, label: str = "") -> str:
    """Create an API token for ``user``; returns the token, of which only the hash is kept."""
    label = clean_text(label, "label", 200, required=False) or ""
    raw = "rsl_" + secrets.token_urlsafe(32)
    lifetime = int(current_app.config.get("TOKEN_LIFETIME_DAYS") or 0)
    with write_transaction() as session:
        token = ApiToken(user_id=user.id, token_hash=hash_token(raw), label=label,
                         expires_at=utcnow() + timedelta(days=lifetime) if lifetime else None)
        session.add(token)
        audit.record("token.created", token, user, {"user_id": user.id, "label": label})
    return raw


@dataclass(frozen=True, slots=True)
class Caller:
    """The person behind an API token, with what services ask of an actor."""
    id: int
    name: str
    is_superuser: bool
    is_authenticated: ClassVar[bool] = True


def _token_query():
    users, tokens = User.__table__, ApiToken.__table__
    return (select(users.c.id, users.c.name, users.c.is_superuser, tokens.c.id, tokens.c.last_used_at)
            .join(tokens, tokens.c.user_id == users.c.id)
            .where(tokens.c.token_hash == bindparam("token_hash"), tokens.c.revoked_at.is_(None),
                   or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > bindparam("now")), users.c.active.is_(True)))


# Every API request asks this: one plain statement, prepared once (loading the ORM's User for it
# took a fifth of a transition's time in the workers, sampled with py-spy).
_TOKEN_QUERY = _token_query()


def user_for_token(raw: str) -> Caller | None:
    """The active user an unrevoked, unexpired token belongs to, or None. Notes the token's last use
    (once a minute)."""
    now = utcnow()
    found = db.session.execute(_TOKEN_QUERY, {"token_hash": hash_token(raw), "now": now}).first()
    if found is None:
        return None
    user_id, name, is_superuser, token_id, last_used_at = found
    if last_used_at is None or now - last_used_at > TOKEN_TOUCH_INTERVAL:
        with write_transaction() as session:
            session.get(ApiToken, token_id).last_used_at = now
    return Caller(user_id, name, is_superuser)


COMMON_PASSWORDS = frozenset({
    "1234567890", "12345678901", "123456789012", "0987654321", "1111111111", "password123", "passwort123",
    "qwertzuiop", "qwertyuiop", "asdfghjkl1", "iloveyou12", "letmein123", "sommer2024", "sommer2025",
    "winter2024", "winter2025", "hallo12345", "passwort12", "password12", "administrator",
})


def check_new_password(password: Any, email: str = "", name: str = "") -> str:
    """The password policy: at least 10 characters, not common, not the person's own name or address."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise ValidationError(_("the password needs at least %(count)s characters", count=PASSWORD_MIN))
    lowered = password.lower()
    personal = {part for part in (email.lower(), email.split("@")[0].lower(), name.lower().replace(" ", "")) if len(part) >= 4}
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4 or any(part in lowered for part in personal):
        raise ValidationError(_("the password is too easy to guess: avoid common passwords, repeated characters "
                                "and your own name or e-mail address"))
    return password


@lru_cache(maxsize=8)
def _method_prefix(method: str) -> str:
    """How werkzeug writes ``method`` with its parameters, e.g. ``scrypt:32768:8:1``."""
    return generate_password_hash("probe", method=method).split("$")[0]


def rehash_password_if_needed(user_id: int, password: str) -> None:
    """After a successful sign-in, store the hash with the current method and parameters if it is older."""
    current = _method_prefix(current_app.config["PASSWORD_HASH_METHOD"])
    if db.session.get(User, user_id).password_hash.split("$")[0] == current:
        return
    with write_transaction() as session:
        user = session.get(User, user_id)
        user.password_hash = hash_password(password)
        audit.record("user.password_rehashed", user, user, {})


def change_password(user_id: int, current: str, new: str) -> User:
    """Change a user's own password; every other session of theirs ends."""
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None or not check_password_hash(user.password_hash, current or ""):
            raise ValidationError(_("the current password is wrong"))
        new = check_new_password(new, user.email, user.name)
        user.password_hash = hash_password(new)
        user.session_token = secrets.token_hex(16)
        audit.record("user.password_changed", user, user, {})
    return user


def set_active(actor: User, user_id: int, active: bool) -> User:
    """Deactivate (or reactivate) an account: a deactivated user's sessions and tokens stop at once."""
    with write_transaction() as session:
        _require_superuser(actor)
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(_("there is no user %(id)s", id=user_id))
        if user.id == actor.id and not active:
            raise ValidationError(_("you cannot deactivate your own account"))
        if user.active == active:
            return user
        user.active = active
        user.session_token = secrets.token_hex(16)
        audit.record("user.activated" if active else "user.deactivated", user, actor, {"email": user.email})
    return user


def _require_superuser(actor: Any) -> None:
    if actor is not None and not actor.is_superuser:
        raise Forbidden(_("only superusers administer the installation"))


def revoke_tokens(user: User, label: str | None = None) -> int:
    """Revoke a user's tokens (those with ``label``, or all); returns how many were revoked."""
    with write_transaction() as session:
        query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        if label is not None:
            query = query.where(ApiToken.label == label)
        tokens = session.scalars(query.with_for_update()).all()
        now = utcnow()
        for token in tokens:
            token.revoked_at = now
            audit.record("token.revoked", token, None, {"user_id": user.id, "label": token.label})
    return len(tokens)


# -- processes ------------------------------------------------------------------


def create_process(slug: str, title: str, workflow_id: str, actor: User | None = None) -> Process:
    slug = clean_text(slug, "slug", 100)
    if not _SLUG.match(slug):
        raise ValidationError(_("'%(slug)s' is not a usable slug (lower-case letters, digits and '-')", slug=slug))
    title = clean_text(title, "title", TITLE_MAX)
    if workflow_id not in engine().workflows:
        raise ValidationError(
            _("there is no workflow '%(id)s' (known: %(known)s)", id=workflow_id, known=", ".join(sorted(engine().workflows)))
        )
    with write_transaction() as session:
        _require_superuser(actor)
        if session.scalars(select(Process).where(Process.slug == slug)).first():
            raise ValidationError(_("a process with the slug '%(slug)s' exists already", slug=slug))
        process = Process(slug=slug, title=title, workflow_id=workflow_id)
        session.add(process)
        audit.record("process.created", process, actor, {"slug": slug, "title": title, "workflow": workflow_id})
    return process


def find_process(slug: str) -> Process:
    process = db.session.scalars(select(Process).where(Process.slug == slug)).first()
    if process is None:
        raise NotFound(_("there is no process '%(slug)s'", slug=slug))
    return process


def grant_role(process: Process, user: User, role: str, actor: User | None = None) -> bool:
    """Give ``user`` a role in ``process``; False when they hold it already (nothing changes)."""
    if role not in permissions.PROCESS_ROLES:
        raise ValidationError(_("unknown role '%(role)s' (known: %(known)s)", role=role, known=", ".join(permissions.PROCESS_ROLES)))
    with write_transaction() as session:
        _require_superuser(actor)
        exists = session.scalars(select(Membership).where(
            Membership.user_id == user.id, Membership.process_id == process.id, Membership.role == role)).first()
        if exists:
            return False
        membership = Membership(user_id=user.id, process_id=process.id, role=role)
        session.add(membership)
        audit.record("membership.granted", membership, actor,
                     {"user_id": user.id, "process": process.slug, "role": role})
    permissions.forget_roles()
    return True


def revoke_role(process: Process, user: User, role: str, actor: User | None = None) -> bool:
    """Take a role in ``process`` from ``user``; False when they did not hold it."""
    with write_transaction() as session:
        _require_superuser(actor)
        membership = session.scalars(select(Membership).where(
            Membership.user_id == user.id, Membership.process_id == process.id, Membership.role == role)).first()
        if membership is None:
            return False
        audit.record("membership.revoked", membership, actor,
                     {"user_id": user.id, "process": process.slug, "role": role})
        session.delete(membership)
    permissions.forget_roles()
    return True


# -- recommendations -------------------------------------------------------------


def workflow_of(owner: Any) -> Workflow:
    """The workflow of a process, or of a recommendation (model or view)."""
    return engine().get(owner.workflow_id)


def recommendation_for_change(recommendation_id: int, actor: Any) -> tuple[Recommendation, Workflow, frozenset[str]]:
    """Load and lock a recommendation for a change, with what a change and its answer read (process,
    authors, decision) in the same statement; 404 unless ``actor`` may see it."""
    rec = db.session.scalars(
        select(Recommendation).where(Recommendation.id == recommendation_id)
        .options(joinedload(Recommendation.process), joinedload(Recommendation.author_links),
                 joinedload(Recommendation.decision))
        .execution_options(populate_existing=True).with_for_update(of=Recommendation)
    ).unique().one_or_none()
    if rec is None:
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    workflow = workflow_of(rec.process)
    roles = permissions.roles_for(actor, rec)
    if not permissions.can_view(roles, workflow, rec.state):
        raise NotFound(_("there is no recommendation %(id)s", id=recommendation_id))
    return rec, workflow, roles


def create_recommendation(process_id: int, actor: User, title: Any, body: Any) -> Recommendation:
    with write_transaction() as session:
        # Locking the process row numbers concurrent recommendations one after another.
        process = session.scalars(
            select(Process).where(Process.id == process_id).with_for_update()
        ).first()
        if process is None:
            raise NotFound(_("there is no process %(id)s", id=process_id))
        if not permissions.can_create(permissions.process_roles(actor, process.id)):
            raise Forbidden(_("only members, moderators and administrators of the process may write recommendations"))
        title = clean_text(title, "title", TITLE_MAX)
        body = clean_text(body, "body", BODY_MAX)
        workflow = workflow_of(process)
        initial = workflow.states[workflow.initial]
        number = (session.scalar(select(func.max(Recommendation.number))
                                 .where(Recommendation.process_id == process.id)) or 0) + 1
        now = utcnow()
        body_html = text.render(body)
        rec = Recommendation(
            process_id=process.id, number=number, title=title, body=body, body_html=body_html,
            state=initial.name, state_entered_at=now, created_at=now, updated_at=now,
            due_at=now + timedelta(days=initial.deadline_days) if initial.deadline_days else None,
        )
        rec.author_links.append(RecommendationAuthor(user_id=actor.id, position=0))
        session.add(rec)
        session.flush()
        session.add(RecommendationRevision(recommendation_id=rec.id, revision=1, title=title, body=body,
                                           body_html=body_html, author_id=actor.id, created_at=now))
        audit.record("recommendation.created", rec, actor, {"title": title, "body": body, "state": rec.state})
    return rec


def update_recommendation(recommendation_id: int, actor: User, expected_version: int,
                          title: Any = None, body: Any = None) -> Recommendation:
    """Edit title and/or body. Checks: visible (404), version (409), ``editable_by`` (403), values (422).

    Submitting the current text again changes nothing and records nothing.
    """
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
        if not new:
            raise ValidationError(_("give a title or a body to change"))
        changes = {field: [getattr(rec, field), value] for field, value in new.items() if getattr(rec, field) != value}
        if not changes:
            return rec
        now = utcnow()
        for field, (_old, value) in changes.items():
            setattr(rec, field, value)
        if "body" in changes:
            rec.body_html = text.render(rec.body)
        rec.updated_at = now
        revision = session.scalar(select(func.max(RecommendationRevision.revision))
                                  .where(RecommendationRevision.recommendation_id == rec.id)) or 0
        session.add(RecommendationRevision(recommendation_id=rec.id, revision=revision + 1, title=rec.title,
                                           body=rec.body, body_html=rec.body_html, author_id=actor.id,
                                           created_at=now))
        audit.record("recommendation.updated", rec, actor, {"changes": changes})
    return rec


def add_author(recommendation_id: int, actor: User, user: User) -> Recommendation:
    """Make a member of the process a co-author; only an author may invite one."""
    with write_transaction():
        rec, _workflow, roles = recommendation_for_change(recommendation_id, actor)
        if "author" not in roles:
            raise Forbidden(_("only the recommendation's authors may add co-authors"))
        if not permissions.can_create(permissions.process_roles(user, rec.process_id)):
            raise ValidationError(_("%(name)s is not a member of this process", name=user.name))
        if any(link.user_id == user.id for link in rec.author_links):
            raise ValidationError(_("%(name)s is an author already", name=user.name))
        rec.author_links.append(RecommendationAuthor(user_id=user.id, position=len(rec.author_links)))
        rec.updated_at = utcnow()
        audit.record("recommendation.author_added", rec, actor, {"user_id": user.id, "name": user.name})
    return rec


def check_version(rec: Recommendation, expected_version: Any) -> None:
    """409 unless the client saw the version the recommendation has now."""
    if expected_version != rec.version:
        raise Conflict(_("recommendation %(id)s is at version %(version)s, not %(expected)s: "
                         "someone else changed it; reload and try again",
                         id=rec.id, version=rec.version, expected=expected_version))


# -- comments -------------------------------------------------------------------


def create_comment(recommendation_id: int, actor: User, body: Any, parent_id: Any = None,
                   visibility: Any = "public") -> Comment:
    with write_transaction() as session:
        rec, _workflow, roles = recommendation_for_change(recommendation_id, actor)
        if visibility not in ("public", "internal"):
            raise ValidationError(_("visibility must be 'public' or 'internal'"))
        if not permissions.can_comment(roles, visibility):
            raise Forbidden(_("only the process's moderators and administrators write internal notes")
                            if visibility == "internal" else
                            _("only the process's members, moderators, administrators and the authors may comment"))
        body = clean_text(body, "body", COMMENT_MAX)
        if parent_id is not None:
            parent = session.get(Comment, parent_id) if type(parent_id) is int and 0 < parent_id <= MAX_ID else None
            if parent is None or parent.recommendation_id != rec.id or not permissions.can_read_comment(roles, parent):
                raise ValidationError(_("parent_id: there is no comment %(id)s on this recommendation", id=parent_id))
            if parent.visibility == "internal" and visibility != "internal":
                raise ValidationError(_("a reply to an internal note must be internal too"))
        comment = Comment(recommendation_id=rec.id, parent_id=parent_id, author_id=actor.id, body=body,
                          body_html=text.render(body), visibility=visibility, created_at=utcnow())
        session.add(comment)
        audit.record("comment.created", comment, actor,
                     {"body": body, "visibility": visibility, "parent_id": parent_id})
    return comment


def lock_comment(comment_id: int, actor: Any) -> tuple[Comment, frozenset[str]]:
    """Load and lock a comment for a change; 404 unless ``actor`` may read it."""
    comment = db.session.scalars(
        select(Comment).where(Comment.id == comment_id).with_for_update(of=Comment)
        .execution_options(populate_existing=True)
    ).first()
    if comment is None:
        raise NotFound(_("there is no comment %(id)s", id=comment_id))
    rec = comment.recommendation
    roles = permissions.roles_for(actor, rec)
    if not (permissions.can_view(roles, workflow_of(rec.process), rec.state)
            and permissions.can_read_comment(roles, comment)):
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
        for report in session.scalars(select(CommentReport).where(
                CommentReport.comment_id == comment.id, CommentReport.resolved_at.is_(None))):
            report.resolved_at = comment.hidden_at
        audit.record("comment.hidden", comment, actor, {"reason": reason})
    return comment


def edit_comment(comment_id: int, actor: User, body: Any) -> Comment:
    """The author edits their own comment; the earlier text is kept."""
    with write_transaction() as session:
        comment, _roles = lock_comment(comment_id, actor)
        if not permissions.can_edit_comment(permissions.user_id(actor), comment):
            raise Forbidden(_("only its author may edit a comment, and not once it is hidden"))
        body = clean_text(body, "body", COMMENT_MAX)
        if body == comment.body:
            return comment
        now = utcnow()
        session.add(CommentRevision(comment_id=comment.id, body=comment.body, body_html=comment.body_html, replaced_at=now))
        audit.record("comment.edited", comment, actor, {"changes": {"body": [comment.body, body]}})
        comment.body, comment.body_html, comment.edited_at = body, text.render(body), now
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
        audit.record("comment.reported", report, actor, {"comment_id": comment.id, "reason": reason})
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
        if report.resolved_at is not None:
            raise ValidationError(_("this report is closed already"))
        report.resolved_at = utcnow()
        audit.record("comment.report_dismissed", report, actor, {"comment_id": report.comment_id})
    return report
