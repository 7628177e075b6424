"""Public intake: residents send concerns without an account (docs/workflows.md, "Public intake").

A process whose workflow says ``intake: public`` takes submissions from anyone (``submit``):
name (optional), e-mail address, title and text. Nothing of it is visible anywhere until the
address is confirmed through the single-use link the worker mails (``confirm``); confirming creates
the recommendation in the workflow's ``initial`` state with the resident as its author and mails a
private status link (``status``) that shows the concern and its steps without an account.

Residents are ``User`` rows with ``resident`` set: no password (nobody signs in as one), e-mailed
like anyone else. The row is made when the first submission from an address arrives (the outbox
needs a recipient); an address that has an account already gets the confirmation link itself, and
the concern becomes that account's. A resident becomes an ordinary account, with all their
concerns, by setting a password through an invitation or a password reset sent to the same
address (app/services/passwords.py; ``create_user`` turns the resident row into the account).

Link secrets are HMACs of the row's id and a nonce under the installation's secret key, as for
invitations: the worker writes them into the mail, while the database keeps only their SHA-256.

Spam defence without third parties: a honeypot field and a minimum fill time (the web form), and
database-backed limits per address and per e-mail address (app/services/throttle.py). A refusal by
the honeypot or the e-mail limit answers exactly like a success and stores nothing, so the answer
tells nobody whether an address has an account or was used before.

The worker deletes unconfirmed submissions ``INTAKE_CONFIRM_HOURS`` after they came in
(``expiry_pass``), with the resident row made for them when nothing else holds it, and erases
residents ``retention_days`` after their concerns reached a final state (``retention_pass``),
through ``erase_user``, the path of ``ratschlag users erase``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_request_context
from flask_babel import get_locale, gettext as _
from sqlalchemy import delete, exists, select

from .. import audit
from ..errors import NotFound, TooManyAttempts, ValidationError
from ..extensions import db
from ..models import (
    Category,
    Follow,
    Mail,
    Notification,
    NotificationSetting,
    Process,
    Recommendation,
    RecommendationAuthor,
    Submission,
    User,
    email_form,
    email_key,
    utcnow,
)
from ..transactions import add_unique, write_transaction
from ..workflow import engine
from . import categories, throttle
from .erasure import erase_user
from .notifications import new_mail
from .recommendations import insert_recommendation
from .validation import BODY_MAX, EMAIL, NAME_MAX, TITLE_MAX, clean_text, render_ahead

#: A resident's password hash: not one werkzeug knows, so every password check fails.
RESIDENT_PASSWORD = "!resident"
#: What the web form's honeypot field is called (hidden from people; bots fill it in).
HONEYPOT = "website"
CONFIRM, STATUS = "intake-confirm", "intake-status"
#: The name of a resident who gave none (like the pseudonym of an erased person, stored in English).
RESIDENT_NAME = "Resident {id}"


def invalid_confirmation() -> NotFound:
    return NotFound(_("This confirmation link is not valid: it was used already, it has expired, or it was never sent."))


def invalid_status() -> NotFound:
    return NotFound(_("This status link is not valid."))


def setting(name: str) -> int:
    """An ``INTAKE_*`` setting (defaults and meaning in app/config.py)."""
    return int(current_app.config[name])


def _secret(purpose: str, submission_id: int, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"{purpose}:{submission_id}:{nonce}".encode(), hashlib.sha256).hexdigest()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def confirm_secret(submission: Submission) -> str:
    """The secret in a submission's confirmation link (only its hash is stored)."""
    return _secret(CONFIRM, submission.id, submission.nonce)


def status_secret(submission: Submission) -> str:
    """The secret in a submission's private status link (only its hash is stored)."""
    return _secret(STATUS, submission.id, submission.status_nonce)


def intake_process(slug: str) -> Process:
    """The process ``slug`` if its workflow takes public submissions; 404 otherwise."""
    process = db.session.scalars(select(Process).where(Process.slug == slug)).first() if isinstance(slug, str) else None
    if process is None or not takes_submissions(process):
        raise NotFound(_("there is no process '%(slug)s' that takes submissions", slug=str(slug)[:100]))
    return process


def takes_submissions(process: Process) -> bool:
    """A process on a workflow with ``intake: public``, unless its procedure is finished (the overview's status)."""
    return engine().get(process.workflow_id).intake == "public" and process.status != "finished"


@dataclass(frozen=True)
class Received:
    """What ``submit`` did: ``submission_id`` None when it stored nothing (honeypot, e-mail limit),
    which the caller must not let show in its answer."""

    submission_id: int | None


class TooFast(ValidationError):
    """The form came back sooner than a person can fill it in (or without its signed start time)."""


def submit(
    slug: str,
    email: Any,
    title: Any,
    body: Any,
    name: Any = None,
    address: str = "",
    honeypot: Any = None,
    seconds_taken: float | None = None,
    category: Any = None,
) -> Received:
    """Take a public submission, in this order: 404 unless the process takes submissions; the
    honeypot filled in: accepted, nothing stored; ``seconds_taken`` (the web form's fill time, None
    for the API) under ``INTAKE_MIN_SECONDS``: ``TooFast`` (422); invalid fields: 422; too many from
    this address: 429 (``TooManyAttempts``); too many for this e-mail address: accepted, nothing
    stored. Otherwise the submission is stored and its confirmation link queued for the worker."""
    process = intake_process(slug)
    if isinstance(honeypot, str) and honeypot.strip():
        return Received(None)
    if seconds_taken is not None and seconds_taken < setting("INTAKE_MIN_SECONDS"):
        raise TooFast(_("That was very quick. Please read your text once more, then send it again."))
    email = email_form(clean_text(email, "e-mail", 254))
    if not EMAIL.match(email):
        raise ValidationError(_("'%(email)s' is not an e-mail address", email=email), field="email")
    name = clean_text(name, "name", NAME_MAX, required=False)
    title = clean_text(title, "title", TITLE_MAX)
    body = clean_text(body, "body", BODY_MAX)
    category_id = categories.category_for(process.id, category)  # a slug of the process's categories, or none
    by_address = throttle.submission_attempt("address", address or "unknown")
    if by_address.wait:
        raise TooManyAttempts(by_address.wait)
    if throttle.submission_attempt("email", email_key(email)).wait:
        return Received(None)  # answered like a success: the limit tells nothing about the address
    now = utcnow()
    with write_transaction() as session:
        user = _recipient(session, email, name)
        submission = Submission(
            process_id=process.id,
            user_id=user.id,
            name=name,
            title=title,
            body=body,
            category_id=category_id,
            nonce=secrets.token_hex(16),
            status_nonce=secrets.token_hex(16),
            status_hash=secrets.token_hex(32),  # a placeholder until the id is known
            token_hash=secrets.token_hex(32),
            created_at=now,
            expires_at=now + timedelta(hours=setting("INTAKE_CONFIRM_HOURS")),
        )
        session.add(submission)
        session.flush()
        submission.token_hash = _hash(confirm_secret(submission))
        submission.status_hash = _hash(status_secret(submission))
        new_mail(session, user.id, "intake_confirmation", submission_id=submission.id)
        audit.record("submission.received", submission, None, {"process": process.slug, "user_id": user.id})
    return Received(submission.id)


def _recipient(session, email: str, name: str | None) -> User:
    """The account of ``email``, or its resident row, made now if there is none."""
    query = select(User).where(User.email_key == email_key(email))
    user = session.scalars(query).first()
    if user is None:
        user = User(
            email=email, name=name or "", password_hash=RESIDENT_PASSWORD, resident=True, active=True, language=_language()
        )
        if not add_unique(session, user):  # a simultaneous submission made it first
            user = session.scalars(query).one()
        elif not name:
            user.name = RESIDENT_NAME.format(id=user.id)
    if user.resident:  # mails in the language of the latest form or request (an account chooses its own)
        user.language = _language() or user.language
    return user


def _language() -> str | None:
    """The language the resident used (the page's or the API request's Accept-Language)."""
    return str(get_locale()) if has_request_context() and get_locale() is not None else None


def _by_confirmation(secret: Any) -> Submission:
    found = (
        db.session.scalars(select(Submission).where(Submission.token_hash == _hash(secret))).first()
        if isinstance(secret, str) and 0 < len(secret) <= 128
        else None
    )
    if found is None or found.confirmed_at is not None or found.expires_at <= utcnow():
        raise invalid_confirmation()
    return found


def pending(secret: Any) -> Submission:
    """The unconfirmed, unexpired submission of a confirmation link; NotFound for anything else."""
    return _by_confirmation(secret)


def confirm(secret: Any) -> Submission:
    """Confirm a submission through its link: the recommendation is created in the workflow's
    ``initial`` state with the submitter as its author, the link is used up, the submission forgets
    what was typed (the recommendation holds it now), and the private status link is mailed. A
    forged, used or expired link: NotFound, and nothing changes."""
    found = _by_confirmation(secret)
    body_html = render_ahead(found.body, BODY_MAX) or ""
    with write_transaction() as session:
        process = session.scalars(select(Process).where(Process.id == found.process_id).with_for_update()).one()
        submission = session.scalars(
            select(Submission).where(Submission.id == found.id).with_for_update().execution_options(populate_existing=True)
        ).first()
        if submission is None or submission.confirmed_at is not None or submission.expires_at <= utcnow():
            raise invalid_confirmation()  # a second tab, or the worker, came first
        user = session.get_one(User, submission.user_id)
        if not user.active or user.erased_at is not None:
            raise invalid_confirmation()  # deactivated or erased since: nobody to be the author
        if user.resident and submission.name:
            user.name = submission.name
        assert submission.title is not None and submission.body is not None  # blanked only on confirmation
        category = session.get(Category, submission.category_id) if submission.category_id is not None else None
        rec = insert_recommendation(
            session,
            process,
            user,
            submission.title,
            submission.body,
            body_html,
            category.slug if category is not None else None,
            category.id if category is not None else None,
        )
        submission.confirmed_at = utcnow()
        submission.token_hash = None
        submission.recommendation_id = rec.id
        submission.name = submission.title = submission.body = None
        new_mail(session, user.id, "intake_confirmed", submission_id=submission.id)
        audit.record("submission.confirmed", submission, user, {"recommendation_id": rec.id})
    return submission


def status(secret: Any) -> Submission:
    """The confirmed submission of a private status link; NotFound for anything else."""
    found = (
        db.session.scalars(select(Submission).where(Submission.status_hash == _hash(secret))).first()
        if isinstance(secret, str) and 0 < len(secret) <= 128
        else None
    )
    if found is None or found.recommendation_id is None or found.user.erased_at is not None:
        raise invalid_status()  # an erased resident's link ends with their data (retention_days)
    return found


def status_path_for(recommendation_id: int) -> str | None:
    """The private status page of a recommendation that came in through public intake."""
    found = db.session.scalars(select(Submission).where(Submission.recommendation_id == recommendation_id)).first()
    return f"/intake/status/{status_secret(found)}" if found is not None else None


# -- the worker's passes ----------------------------------------------------------------------


def expiry_pass(now: datetime | None = None) -> int:
    """Delete every unconfirmed submission whose link has expired, with its mails, and the resident
    row made for it when no concern and no other submission holds that row. One write transaction
    and one ``submission.expired`` event per submission; idempotent. Returns how many it deleted."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(Submission.id).where(Submission.confirmed_at.is_(None), Submission.expires_at <= now).order_by(Submission.id)
        )
    )
    db.session.rollback()
    deleted = 0
    for submission_id in due:
        with write_transaction() as session:
            submission = session.scalars(
                select(Submission)
                .where(Submission.id == submission_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
            if submission is None or submission.confirmed_at is not None:
                continue  # another worker deleted it, or it was confirmed in time
            user = session.get_one(User, submission.user_id)
            orphan = (
                user.resident
                and user.erased_at is None  # an erased person's row stays, as its user.erased event says
                and session.scalar(select(exists().where(RecommendationAuthor.user_id == user.id))) is False
                and session.scalar(select(exists().where(Submission.user_id == user.id, Submission.id != submission.id))) is False
            )
            audit.record(
                "submission.expired",
                submission,
                None,
                {"process_id": submission.process_id, "resident_removed": bool(orphan)},
            )
            session.execute(delete(Mail).where(Mail.submission_id == submission.id))
            session.delete(submission)
            if orphan:
                session.flush()
                for model in (Notification, Mail, NotificationSetting, Follow):
                    session.execute(delete(model).where(model.user_id == user.id))
                session.delete(user)
            deleted += 1
    return deleted


def retention_pass(now: datetime | None = None) -> int:
    """Erase residents (as ``ratschlag users erase`` does) whose every concern has been in a final
    state for its workflow's ``retention_days``, and who have no unconfirmed submission waiting.
    Accounts (people who set a password) are never erased here. Idempotent: erased people are
    skipped. Returns how many it erased."""
    now = now or utcnow()
    rows = db.session.execute(
        select(User.id, Recommendation.state, Recommendation.state_entered_at, Process.workflow_id)
        .join(RecommendationAuthor, RecommendationAuthor.user_id == User.id)
        .join(Recommendation, Recommendation.id == RecommendationAuthor.recommendation_id)
        .join(Process, Process.id == Recommendation.process_id)
        .where(
            User.resident.is_(True),
            User.erased_at.is_(None),
            ~exists().where(Submission.user_id == User.id, Submission.confirmed_at.is_(None)),
        )
        .order_by(User.id)
    ).all()
    db.session.rollback()
    ripe: dict[int, bool] = {}
    for uid, state, entered, workflow_id in rows:
        workflow = engine().get(workflow_id)
        days = workflow.retention_days
        final = state in workflow.states and workflow.states[state].final
        ripe[uid] = ripe.get(uid, True) and final and days is not None and entered + timedelta(days=days) <= now
    erased = 0
    for uid, due in ripe.items():
        if due:
            try:
                erase_user(uid, None)
            except (NotFound, ValidationError):
                continue  # erased meanwhile (by another worker or a superuser), or gone
            erased += 1
    return erased
