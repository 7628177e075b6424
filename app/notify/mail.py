"""Compose the e-mail for one queued mail, with the standard library (``email.message.EmailMessage``).

Every e-mail has a ``text/plain`` part in the recipient's language, the mail's fixed
``Message-ID`` (a retry sends the same one), and one-click unsubscribe headers (RFC 8058) with a
signed link for that person and kind. Names and titles pass through ``one_line`` first, so line
breaks in them cannot add headers. A notification whose subject the recipient may no longer see
(moved to a state hidden from them, a comment hidden since) is left out; a mail with nothing left
is not sent.
"""

from __future__ import annotations

import re
from datetime import UTC
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from html import escape
from typing import Any

from flask import current_app
from flask_babel import force_locale, gettext as _, ngettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Mail, Notification, Recommendation, Submission, User, UserToken, utcnow
from ..services import intake
from ..services.notifications import unsubscribe_token
from ..services.passwords import link_secret
from .text import describe, one_line, still_visible

#: The standard policy, but a long URL in a header stays one literal line (up to SMTP's 998
#: characters) instead of being RFC 2047-encoded: ``List-Unsubscribe`` must stay readable to
#: the mail programs that offer one-click unsubscribe.
#: Headers are parsed by a registry that remembers what it parsed: the standard one builds a new
#: class and parses the value for every header of every mail, which was half the cost of composing.
#: Header objects are immutable, so mails can share them (as copies of a message do anyway).


class _SharedHeaders(HeaderRegistry):
    def __init__(self, size: int = 4096):
        super().__init__()
        self._classes: dict[str, type] = {}
        self._parsed: dict[tuple[str, str], Any] = {}
        self._size = size

    def __getitem__(self, name):
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]

    def __call__(self, name, value):
        if type(value) is not str:  # an Address, say: not hashable, parsed as it comes
            return self[name](name, value)
        key = (name, value)
        found = self._parsed.get(key)
        if found is None:
            if len(self._parsed) >= self._size:
                self._parsed.clear()
            found = self._parsed[key] = self[name](name, value)
        return found


class _MailPolicy(EmailPolicy):
    """Folds each distinct header once (the same sender, link headers and subjects recur in a batch)."""

    def fold_binary(self, name, value):
        key = (name, str(value), self.utf8, self.max_line_length, self.linesep, self.cte_type)
        found = _FOLDED.get(key)
        if found is None:
            if len(_FOLDED) >= 4096:
                _FOLDED.clear()
            found = _FOLDED[key] = super().fold_binary(name, value)
        return found


_FOLDED: dict[tuple, bytes] = {}
MAIL_POLICY = _MailPolicy(max_line_length=998, header_factory=_SharedHeaders())
#: The same for a mail written into a file (no SMTP server): as it would go over the wire (CRLF,
#: UTF-8 headers), a long ``List-Unsubscribe`` link still one literal line.
FILE_POLICY = MAIL_POLICY.clone(linesep="\r\n", utf8=True)


def base_url() -> str:
    return (current_app.config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")


def language_of(user: User) -> str:
    languages = current_app.config["LANGUAGES"]
    return user.language if user.language and user.language in languages else str(current_app.config["BABEL_DEFAULT_LOCALE"])


def compose_many(mail_ids: list[int]) -> list[tuple[Mail, EmailMessage | None]]:
    """The e-mails for several mails, read with a handful of statements whatever their number."""
    mails = db.session.scalars(
        select(Mail).where(Mail.id.in_(mail_ids)).order_by(Mail.id).execution_options(populate_existing=True)
    ).all()
    notes: dict[int, list[Notification]] = {}
    for note in db.session.scalars(
        select(Notification)
        .where(Notification.mail_id.in_(mail_ids))
        .order_by(Notification.id)
        .options(
            selectinload(Notification.recommendation).selectinload(Recommendation.process),
            selectinload(Notification.recommendation).selectinload(Recommendation.author_links),
        )
    ):
        if note.mail_id is not None:
            notes.setdefault(note.mail_id, []).append(note)
    known: dict = {}
    return [(mail, compose(mail, notes.get(mail.id, []), known)) for mail in mails]


def _header(known: dict, field: str, name: str, email: str):
    """The parsed address header for ``name <email>``, once per batch (``known``)."""
    key = ("address", field, name, email)
    if key not in known:
        known[key] = MAIL_POLICY.header_factory(field, _address(name, email))
    return known[key]


def html_wanted() -> bool:
    return str(current_app.config.get("MAIL_HTML") or "").lower() in ("1", "true", "yes", "on")


_URL = re.compile(r"https?://[^\s<>\"]+")


def _html_line(line: str) -> str:
    """One line of the text, escaped, its web addresses made links."""
    parts, last = [], 0
    for found in _URL.finditer(line):
        url = found.group(0)
        parts.append(escape(line[last : found.start()]))
        parts.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        last = found.end()
    parts.append(escape(line[last:]))
    return "".join(parts)


def as_html(text: str, subject: str, language: str) -> str:
    """The HTML part: the same text, escaped, paragraph by paragraph, with its links clickable. No
    markup comes from anything but this function, so a title or name cannot add any."""
    paragraphs = [
        "<p>" + "<br>\n".join(_html_line(line) for line in block.split("\n")) + "</p>"
        for block in text.split("\n\n")
        if block.strip()
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head><meta charset="utf-8">'
        f"<title>{escape(one_line(subject, 180))}</title></head>\n<body>\n" + "\n".join(paragraphs) + "\n</body>\n</html>\n"
    )


def _address(name: str, email: str) -> Address:
    local, _at, domain = email.rpartition("@")
    return Address(display_name=one_line(name, 100), username=local, domain=domain)


def compose(mail: Mail, notes: list[Notification] | None = None, known: dict | None = None) -> EmailMessage | None:
    """The e-mail for ``mail``, or None when nothing in it may be sent any more. ``notes``: its
    notifications, when the caller read them already."""
    user = mail.user
    if not user.active or not user.email:
        return None
    language = language_of(user)
    base = base_url()
    with force_locale(language):
        if mail.kind in ("invitation", "password_reset", "intake_confirmation", "intake_confirmed"):
            account = mail.kind in ("invitation", "password_reset")
            said = _account_mail(mail, user, base) if account else _intake_mail(mail, user, base)
            if said is None:
                return None
            subject, body, scope = said
        else:
            if notes is None:
                notes = list(
                    db.session.scalars(select(Notification).where(Notification.mail_id == mail.id).order_by(Notification.id))
                )
            notes = [n for n in notes if still_visible(n, user, known)]
            if not notes:
                return None
            subject, body = _notification_mail(mail, notes, language, base, resident=user.resident)
            scope = "digest" if mail.kind == "digest" else mail.kind
        token_key = ("unsubscribe", user.id, scope)
        if known is None or token_key not in known:
            token = unsubscribe_token(user.id, scope)
            if known is not None:
                known[token_key] = token
        else:
            token = known[token_key]
        unsubscribe = f"{base}/unsubscribe/{token}"
        body += "\n\n-- \n"
        if not user.resident:  # a resident cannot sign in to a settings page
            body += _("Your e-mail settings: %(url)s", url=f"{base}/notifications/settings") + "\n"
        body += _("Stop these e-mails: %(url)s", url=unsubscribe) + "\n"
    known = {} if known is None else known
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = one_line(subject, 180)
    message["From"] = _header(known, "From", "Ratschlag", current_app.config["MAIL_FROM"])
    message["To"] = _header(known, "To", user.name, user.email)
    message["Date"] = format_datetime((mail.created_at or utcnow()).replace(tzinfo=UTC))
    message["Message-ID"] = mail.message_id
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, subtype="plain", charset="utf-8")
    if html_wanted():
        message.add_alternative(as_html(body, subject, language), subtype="html", charset="utf-8")
    message["Content-Language"] = language  # after set_content, which clears the Content- headers
    return message


def _notification_mail(
    mail: Mail, notes: list[Notification], language: str, base: str, resident: bool = False
) -> tuple[str, str]:
    said = [describe(n, language) for n in notes]
    if resident:  # a resident follows a concern by its private status link, not by its page
        for note, item in zip(notes, said, strict=True):
            if note.recommendation_id is not None:
                item.path = intake.status_path_for(note.recommendation_id) or item.path
    lines = []
    for item in said:
        lines.append(item.line)
        if item.note:
            lines.append(_("Note: %(note)s", note=item.note))
        if item.path:
            lines.append(base + item.path)
        lines.append("")
    if mail.kind == "digest":
        subject = ngettext("Ratschlag: %(num)d news of the day", "Ratschlag: %(num)d news of the day", len(said))
        intro = _("What happened since your last summary:")
        return subject, intro + "\n\n" + "\n".join(lines).rstrip()
    return "Ratschlag: " + said[0].line, "\n".join(lines).rstrip()


def _intake_mail(mail: Mail, user: User, base: str) -> tuple[str, str, str] | None:
    """The confirmation link of a public submission, or (once confirmed) its private status link;
    None when the submission is gone or the confirmation is no longer needed."""
    submission = db.session.get(Submission, mail.submission_id) if mail.submission_id else None
    if submission is None:
        return None
    process = one_line(submission.process.title, 120)
    if mail.kind == "intake_confirmation":
        if submission.confirmed_at is not None or submission.expires_at <= utcnow():
            return None
        link = f"{base}/intake/confirm/{intake.confirm_secret(submission)}"
        subject = _("Please confirm your concern")
        body = _(
            "Hello,\n\nsomeone, hopefully you, sent a concern to “%(process)s” with this e-mail address:\n\n"
            "“%(title)s”\n\nNothing is passed on until you confirm it. Confirm here (the link works once, for "
            "%(hours)s hours):\n\n%(link)s\n\nIf it was not you, ignore this e-mail: the submission and its data "
            "are deleted when the link expires.",
            process=process,
            title=one_line(submission.title or "", 120),
            hours=intake.setting("INTAKE_CONFIRM_HOURS"),
            link=link,
        )
        return subject, body, "all"
    rec = submission.recommendation
    if rec is None:
        return None
    link = f"{base}/intake/status/{intake.status_secret(submission)}"
    subject = _("Your concern was received: “%(title)s”", title=one_line(rec.title, 120))
    body = _(
        "Hello %(name)s,\n\nthank you: your concern “%(title)s” to “%(process)s” is confirmed and has been "
        "passed on. Keep this private link to see where it stands; it works without an account:\n\n%(link)s\n\n"
        "We e-mail you at each step.",
        name=one_line(user.name, 100),
        title=one_line(rec.title, 120),
        process=process,
        link=link,
    )
    return subject, body, "all"


def _account_mail(mail: Mail, user: User, base: str) -> tuple[str, str, str] | None:
    """An invitation or reset link; None when the link can no longer be used (used up, replaced by
    a newer one, expired, or gone): a mail with a dead link is not sent (``skipped``)."""
    token = db.session.get(UserToken, mail.user_token_id, populate_existing=True) if mail.user_token_id else None
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    link = f"{base}/password/{link_secret(token)}"
    name = one_line(user.name, 100)
    if mail.kind == "invitation":
        subject = _("You are invited to Ratschlag")
        body = _(
            "Hello %(name)s,\n\nan account on Ratschlag was created for you. Choose your password here "
            "(the link works once, for 7 days):\n\n%(link)s",
            name=name,
            link=link,
        )
    else:
        subject = _("Reset your Ratschlag password")
        body = _(
            "Hello %(name)s,\n\nsomeone asked to reset the password of your account. If it was you, choose a "
            "new password here (the link works once, for one hour):\n\n%(link)s\n\nIf it was not you, ignore "
            "this e-mail; your password stays as it is.",
            name=name,
            link=link,
        )
    return subject, body, "all"
