"""Erasure of a person (GDPR Art. 17): the account anonymized, their personal data blanked in the trail.

``erase_user`` is what ``ratschlag users erase`` and the superusers' page call. In one write
transaction it

- anonymizes the account: the name becomes a pseudonym (``Erased person 7``), the e-mail address
  is removed, the password, sessions and API tokens stop working, the account is deactivated and
  loses superuser rights, process roles and department memberships;
- replaces the person's name and e-mail address by the pseudonym wherever a text in the tables
  mentions them (recommendations and their versions, decisions, comments, reports, statements, a
  process's contact and description, sessions and their agenda notes, follow-up reports, other
  people's unconfirmed submissions: ``TEXTS``);
- deletes their unconfirmed public submissions, their notifications and every mail addressed to
  them, and (once committed) the ``.eml`` files the worker wrote of those mails; a mention in
  another mail file is replaced by the pseudonym;
- blanks ``data`` and ``salt`` of every v2 event that holds the person's personal data (the one
  change the database triggers allow on audit rows; ``data_digest`` and ``hash`` stay, so the
  chain still verifies), and counts the v1 events that hold it and cannot be erased;
- appends one ``user.erased`` event, which lists the erased events and the redacted rows but holds
  none of the erased data (``audit verify --deep`` checks every erased payload against these lists).

What counts as the person's personal data in each action's payload is decided in ``holds`` and
documented in docs/auditing.md (section "Erasure"). Contributions stay in the tables, attributed
to the pseudonym.

The trail is searched in two passes so that a long chain does not hold the write lock: first,
outside the write transaction, a cheap filter picks candidate events; then, inside it, the
candidates and every event appended since are judged by the full rules and blanked.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from html.entities import html5
from pathlib import Path
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import CursorResult, delete, func, or_, select, text as sql, update

from .. import audit, text
from ..disclosure import Reader
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..models import (
    AgendaItem,
    AnswerTemplate,
    ApiToken,
    AuditEvent,
    Comment,
    CommentReport,
    CommentRevision,
    Decision,
    DepartmentMember,
    Follow,
    FollowUp,
    Mail,
    Membership,
    Notification,
    NotificationSetting,
    Process,
    Recommendation,
    RecommendationRevision,
    Statement,
    SteeringSession,
    Submission,
    User,
    pseudonym,
    utcnow,
)
from ..roles import forget_roles
from ..transactions import write_transaction
from .validation import require_superuser

#: What an erased account holds instead of an e-mail address: no address (no "@"), so nobody signs
#: in with it and no e-mail is ever sent to it; unique, as the column's index demands.
ERASED_EMAIL = "erased-{id}"
#: Not a password hash werkzeug knows: every password check against it fails.
UNUSABLE_PASSWORD = "!erased"
#: Shorter names are not searched for in other people's payloads: "Al" is in too many words.
NAME_MIN_SEARCHED = 3


def searchable_name(name: str) -> str | None:
    """The name as it is searched for in other people's texts and payloads, or None: a name of one
    word ("und", "public", "Amira") is too likely an ordinary word, and replacing it everywhere would
    rewrite other people's texts (and blank unrelated payloads); only a name of two words or more is
    taken as naming this person."""
    name = name.strip()
    return name if len(name) >= NAME_MIN_SEARCHED and len(name.split()) >= 2 else None


#: Actions whose payload carries a text the actor wrote (a title, a body, a note, a reason, a question).
AUTHORED_TEXT = (
    "recommendation.created",
    "recommendation.updated",
    "recommendation.transitioned",
    "comment.created",
    "comment.edited",
    "comment.hidden",
    "comment.reported",
    "statement.requested",
    "statement.answered",
    "statement.declined",
    "process.answer_template_set",  # an administrator's template: not public (app/disclosure.py)
)
#: Actions whose payload names the person by ``user_id`` together with something more than the id:
#: a co-author's name, a token's label (free text the person chose), a report's reason (its reporter).
NAMES_THE_PERSON = ("recommendation.author_added", "token.created", "token.revoked", "comment.reported")

_FIELDS = (
    AuditEvent.seq,
    AuditEvent.v,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.subject_type,
    AuditEvent.subject_id,
    AuditEvent.data,
)
_BATCH = 2000


@dataclass(frozen=True)
class Erasure:
    """What an erasure did."""

    user_id: int
    pseudonym: str
    erased: list[int]  # the sequence numbers of the v2 events whose payload was blanked now
    v1_kept: int  # v1 events that hold the person's data: erasing them would break the chain
    mail_files_left: list[str] = field(default_factory=list)  # .eml files naming them that could not be changed


#: Characters a reader does not see: Unicode's Default_Ignorable_Code_Point set (the soft hyphen
#: U+00AD, the zero-width space, joiners and bidi marks U+200B–U+200F, the bidi embeddings and isolates,
#: the word joiner and invisible operators U+2060–U+206F, U+FEFF, variation selectors, the combining
#: grapheme joiner, the Mongolian free variation selectors and vowel separator, the tag characters
#: U+E0000–U+E0FFF, ...). A name is compared as it reads: "Max\u00adMuster" with one inside a word is
#: "Max Muster" to a reader. The Hangul fillers (U+115F, U+1160, U+3164, U+FFA0; NFKC makes the last two
#: U+1160) are in that set too, but a reader sees them as a blank: they are compared as a space.
#: (Written as the body of a regular expression's character class.)
INVISIBLE = (
    "\u00ad\u034f\u061c\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff"
    "\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
HANGUL_FILLERS = "\u115f\u1160\u3164\uffa0"
_INVISIBLE = re.compile(f"[{INVISIBLE}{HANGUL_FILLERS}]")


def _drop_invisible(found: re.Match[str]) -> str:
    return " " if found.group() in HANGUL_FILLERS else ""


def _has_invisible(text: str) -> bool:
    # One search of a character class: almost every text has none, and the text is read once.
    return _INVISIBLE.search(text) is not None


#: A character reference as CommonMark reads one (``&auml;``, ``&#228;``, ``&#xE4;``, with its ";").
_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{0,31}));")


def _referenced(found: re.Match[str]) -> str | None:
    """The character a reference stands for, when it is one that only shows as text (a letter, a digit,
    a mark, whitespace, "@", "." or ",", or an invisible one); None for the others ("&lt;", "&amp;",
    "&#42;"), whose decoding would change what the Markdown means."""
    decimal, hexadecimal, name = found.groups()
    if name is not None:
        char = html5.get(name + ";")
        if char is None or len(char) != 1:
            return None
    else:
        number = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if not 0 < number <= 0x10FFFF or 0xD800 <= number <= 0xDFFF:
            return None
        char = chr(number)
    if char.isalnum() or char.isspace() or char in "@.," or unicodedata.category(char)[0] == "M" or _INVISIBLE.match(char):
        return char
    return None


def _decode_references(text: str) -> str:
    """``text`` with the character references that only show as text decoded (``_referenced``):
    "J&auml;ger" and "wj&#64;example.org" read "Jäger" and "wj@example.org" on the rendered page."""
    return _REFERENCE.sub(lambda found: _referenced(found) or found.group(), text)


def fold(text: str) -> str:
    """``text`` as names are compared: the character references that show as text decoded
    (``_decode_references``), NFKC-normalized and case-folded, with the Turkish dotted and dotless i
    (``İ``, ``ı``) taken as ``i``, so that "IŞIK YILMAZ", "işık yılmaz" and "Işık Yılmaz" are one name
    (``str.lower`` alone makes "ışık" of one and "işik" of another), and without the characters a reader
    does not see (``INVISIBLE``; NFKC already makes a no-break space a space, and a Hangul filler is
    read as one). ASCII text, most of the trail, takes the quick way, with the same result."""
    if "&" in text:
        text = _decode_references(text)
    if text.isascii():
        return text.lower()
    folded = unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i").replace("ı", "i")
    return _INVISIBLE.sub(_drop_invisible, folded) if _has_invisible(folded) else folded


#: Markdown's emphasis markers (``**bold**``, ``_italic_``, ``~~struck~~``) beside the whitespace between
#: two words of a name are part of the gap: "Max **Muster**" reads "Max Muster".
_MARKERS = r"[*_~]*"
#: Between two words of a name: any run of whitespace (spaces, a no-break space, tabs, line breaks
#: "\n" or "\r\n"), raw or as stored JSON escapes it ("\\n", "\\r\\n", "\\t").
_GAP = _MARKERS + r"(?:\s|\\[nrtf])+" + _MARKERS
#: Around the comma of "Surname, Given names": any whitespace or none.
_COMMA = _MARKERS + r"(?:\s|\\[nrtf])*,(?:\s|\\[nrtf])*" + _MARKERS


def _spelled(word: str) -> str:
    """A pattern for one folded word of a name, as it is written in a text, in stored JSON (a quote
    or a backslash escaped) or in a mail's HTML (an entity)."""
    pattern = []
    for char in word:
        forms = {char, json.dumps(char, ensure_ascii=False)[1:-1], html.escape(char)}
        pattern.append(re.escape(char) if len(forms) == 1 else "(?:" + "|".join(map(re.escape, sorted(forms))) + ")")
    return "".join(pattern)


def name_pattern(name: str) -> str:
    """A pattern (for folded text) matching the name "Given names Surname" with any whitespace run
    between its words, and also written "Surname, Given names" (every split of the words: "García
    López, Ana" and "Muster, Anna Maria" alike)."""
    words = [_spelled(word) for word in fold(name).split()]
    orders = [_GAP.join(words)]
    orders += [_GAP.join(words[k:]) + _COMMA + _GAP.join(words[:k]) for k in range(1, len(words))]
    return "|".join(orders)


#: The characters of an address's local part besides letters and digits (RFC 5322's atext, and the dot):
#: an address written right after one of them is part of another address ("tom.wj@…", "tom+wj@…").
_LOCAL_PART = frozenset(".!#$%&'*+/=?^_`{|}~-")
#: Markdown's emphasis and code markers and quotes right before an address, themselves after a space or
#: punctuation, are not part of it: "**wj@example.org**", "_wj@…_", "`wj@…`", "'wj@…'".
_ADDRESS_MARKERS = frozenset("*_~'`")
#: A link's query parameter before the address: "?to=wj%40example.org", "&cc=wj@…".
_QUERY_KEY = re.compile(r"[?&;][^\s?&;=#/\"'<>]{0,40}=$")
#: After an address: no continuation of its domain ("wj@example.org.uk", "wj@example.organisation",
#: "wj@example.org-x", "wj@example.org_x"); a full stop ending the sentence or a closing "_" is no part of it.
_ADDRESS_END = r"(?!-|[^\W_]|_+[^\W_]|\.[^\W_])"


def _starts_address(folded: str, start: int) -> bool:
    """Whether an address found at ``start`` of ``folded`` is a whole address, not the end of another one:
    not right after a letter, a digit or another character of an address's local part (except Markdown's
    markers and quotes around it, and a link's "?key="), nor after stored JSON's escaped line break."""
    before = start
    while before > 0 and folded[before - 1] in _ADDRESS_MARKERS:
        before -= 1
    if before == 0:
        return True
    char = folded[before - 1]
    if before >= 2 and folded[before - 2] == "\\" and char in "nrtf":
        return True  # "\\n" in stored JSON: a line break
    if char == "=" and before == start and _QUERY_KEY.search(folded, max(0, start - 48), start):
        return True
    return not (char.isalnum() or char in _LOCAL_PART)


#: Emphasis markers on either side of a gap between the words of a name (``_GAP``, ``_COMMA``).
_GAP_MARKERS = re.compile(r"([*_~]*)(?:(?:\s|\\[nrtf])*,(?:\s|\\[nrtf])*|(?:\s|\\[nrtf])+)([*_~]*)")


def _keep_markers(mention: str, pseudonym: str) -> str:
    """The pseudonym with the Markdown emphasis markers the mention's gaps held, so that the text around
    it stays balanced: "Max **Muster**" becomes "**Erased person 7**" (the markers that open inside
    the mention and close after it), "*Max* Muster" becomes "*Erased person 7*" (those that close
    inside it); a pair that opens and closes inside it goes with the name."""
    if "*" not in mention and "_" not in mention and "~" not in mention:
        return pseudonym
    opened: list[str] = []
    closed: list[str] = []
    for gap in _GAP_MARKERS.finditer(mention):
        closing, opening = gap.groups()
        if closing and closing == opening:
            continue  # "_Max_ _Muster_": one emphasis ends where the next begins
        if closing:
            if opened and opened[-1] == closing:
                opened.pop()
            else:
                closed.append(closing)
        if opening:
            opened.append(opening)
    return "".join(opened) + pseudonym + "".join(closed)


class Person:
    """The person being erased, as the rules below look for them."""

    def __init__(self, user: User):
        self.id = user.id
        self.pseudonym = pseudonym(user.id)
        self._user_id = re.compile(rf'"user_id":{user.id}[,}}]')
        email = user.email.strip()
        # The stored data is canonical JSON: a quote or a backslash in an address is written escaped
        # there; a mail's HTML part writes it as an entity, and a link as "%40" for the "@". Compared
        # folded (``fold``): both sides are normalized the same way, whatever the case or form.
        forms = (email, json.dumps(email, ensure_ascii=False)[1:-1], html.escape(email))
        addresses = {fold(form) for form in forms} | {fold(form).replace("@", "%40") for form in forms}
        # A cheap test before the pattern: a text can only mention the person if it holds the address,
        # or every run of letters of the name (however the words are separated or ordered).
        self._addresses = tuple(addresses)
        self.address = re.compile(
            "(?:" + "|".join(re.escape(a) for a in sorted(addresses, key=len, reverse=True)) + ")" + _ADDRESS_END
        )
        self._runs: tuple[str, ...] = ()
        self.mention: re.Pattern[str] | None = None
        if searched := searchable_name(user.name):
            self._runs = tuple(sorted(set(re.findall(r"[^\W_]+", fold(searched))), key=len, reverse=True))
            # Whole words only: "Max" is not in "maximal", "Max Muster" not in "Max Muster-Lang". An
            # underscore is no part of a word here (Markdown's "_Max Muster_"), and in stored JSON a line
            # break before the name is written "\\n": neither hides a mention.
            self.mention = re.compile(r"(?:(?<=\\[nrt])|(?<![^\W_])(?<!\w-))(?:" + name_pattern(searched) + r")(?![^\W_])(?!-\w)")

    def _found(self, folded: str) -> list[tuple[int, int]]:
        """Where ``folded`` mentions the person: (start, end) of each mention, in order, not overlapping."""
        spans = [found.span() for found in self.address.finditer(folded) if _starts_address(folded, found.start())]
        if self.mention is not None:
            spans += [found.span() for found in self.mention.finditer(folded) if found.end() > found.start()]
        spans.sort()
        kept: list[tuple[int, int]] = []
        for span in spans:
            if not kept or span[0] >= kept[-1][1]:
                kept.append(span)
        return kept

    def names(self, text: str | None) -> bool:
        """Whether ``text`` mentions the person (their e-mail address or name)."""
        if not text:
            return False
        folded = fold(text)
        # A plain search first: three times as fast as the pattern alone, which then only confirms the
        # few hits (the whole trail is searched).
        # (Loops, not any() and all(): their generators cost more than the searches on most texts.)
        for address in self._addresses:
            if address in folded:
                if any(_starts_address(folded, found.start()) for found in self.address.finditer(folded)):
                    return True
                break
        if not self._runs or self.mention is None:
            return False
        for run in self._runs:
            if run not in folded:
                return False
        return self.mention.search(folded) is not None

    def redact(self, text: str | None) -> str | None:
        """``text`` with every mention of the person replaced by the pseudonym (a text that names them
        comes back in Unicode's composed form, NFC). A mention written with character references
        ("J&auml;ger") is replaced with them; references elsewhere in the text stay as they were."""
        if not text or not self.names(text):
            return text
        text = unicodedata.normalize("NFC", text)
        # Fold piece by piece, remembering where each folded character came from, so that a mention
        # found in the folded text ("ß" folds to "ss", "İ" to "i", "&auml;" to "ä") is replaced in the
        # original. A piece is a character or a reference that shows as text, with the combining marks
        # that follow it (a reference to a mark, "a&#776;", composes with the letter before it).
        pieces: list[list[Any]] = []  # [start, end, characters]
        position = 0
        references = list(_REFERENCE.finditer(text)) if "&" in text else []
        for reference in [*references, None]:
            until = reference.start() if reference is not None else len(text)
            for index in range(position, until):
                char = text[index]
                if pieces and not char.isascii() and unicodedata.combining(char) and pieces[-1][1] == index:
                    pieces[-1][1], pieces[-1][2] = index + 1, pieces[-1][2] + char
                else:
                    pieces.append([index, index + 1, char])
            if reference is None:
                break
            char = _referenced(reference) or ""
            if char and unicodedata.combining(char) and pieces and pieces[-1][1] == reference.start():
                pieces[-1][1], pieces[-1][2] = reference.end(), pieces[-1][2] + char
            elif char:
                pieces.append([reference.start(), reference.end(), char])
            else:
                pieces += [[index, index + 1, text[index]] for index in range(reference.start(), reference.end())]
            position = reference.end()
        folded, starts, ends = [], [], []
        for start, end, chars in pieces:
            piece = fold(chars)
            folded.append(piece)
            starts += [start] * len(piece)
            ends += [end] * len(piece)
        kept, last = [], 0
        whole = "".join(folded)
        for found_start, found_end in self._found(whole):
            start, end = starts[found_start], ends[found_end - 1]
            if start < last:
                continue
            kept += [text[last:start], _keep_markers(whole[found_start:found_end], self.pseudonym)]
            last = end
        return "".join(kept) + text[last:]

    def about_account(self, row: Any) -> bool:
        """An event about the person's account (created, (de)activated, password changed)."""
        return row.subject_type == "user" and row.subject_id == self.id

    def named_by_id(self, row: Any) -> bool:
        return row.action in NAMES_THE_PERSON and row.data is not None and bool(self._user_id.search(row.data))

    def mentioned(self, row: Any) -> bool:
        """The person's e-mail address or name written anywhere in the payload, by anyone."""
        return self.names(row.data)

    def wrote(self, row: Any) -> bool:
        """A text the person wrote (a transition counts only with its note)."""
        return (
            row.actor_id == self.id
            and row.action in AUTHORED_TEXT
            and row.data is not None
            and (row.action != "recommendation.transitioned" or '"note":' in row.data)
        )

    def candidate(self, row: Any) -> bool:
        """The cheap first pass: everything ``holds`` might say yes to."""
        return self.about_account(row) or self.named_by_id(row) or self.mentioned(row) or self.wrote(row)


def holds(person: Person, rows: list[Any]) -> list[Any]:
    """The events among ``rows`` whose payload holds the person's personal data (docs/auditing.md):

    - every event about their account (``user.*`` with them as subject): e-mail and name;
    - a co-author's addition naming them, and their API tokens' events (the label is their text);
    - any payload, whoever wrote it, that contains their e-mail address or name;
    - a text they wrote that is not public: what an anonymous visitor may not read now (a draft, an
      internal note, a hidden comment, a report, an internal statement). Their public
      contributions stay, attributed to the pseudonym.
    """
    found, texts = [], []
    for row in rows:
        if row.data is None or row.data == "{}":
            continue  # erased already, or nothing to erase
        if person.about_account(row) or person.named_by_id(row) or person.mentioned(row):
            found.append(row)
        elif person.wrote(row):
            texts.append(row)
    found += [row for row, data_shown, _actor in Reader(None).judged(texts) if not data_shown]
    return sorted(found, key=lambda row: row.seq)


#: Free texts in the tables where anyone may have named the person: the model, its text columns, the
#: Markdown column and the column holding the HTML rendered from it (or None), and the audit subject
#: the row belongs to (its kind and the column with its id), which ``user.erased`` lists as redacted.
TEXTS = (
    (Recommendation, ("title", "body"), ("body", "body_html"), ("recommendation", "id")),
    (RecommendationRevision, ("title", "body"), ("body", "body_html"), ("recommendation", "recommendation_id")),
    (Decision, ("note",), None, ("recommendation", "recommendation_id")),
    (Comment, ("body", "hidden_reason"), ("body", "body_html"), ("comment", "id")),
    (CommentRevision, ("body",), ("body", "body_html"), ("comment", "comment_id")),
    (CommentReport, ("reason",), None, ("comment_report", "id")),
    (Statement, ("question", "body", "reason"), ("body", "body_html"), ("statement", "id")),
    # A process's overview: the contact ("Wilhelmine Quast, Rathaus, Zimmer 12") and its description.
    # Its links are JSON ({title, url}): the pseudonym needs no escaping, so the JSON stays valid.
    (Process, ("contact", "description", "links_json"), ("description", "description_html"), ("process", "id")),
    # A process's own answer templates prefill every later justification: a name in one would be
    # copied into public answers.
    (AnswerTemplate, ("body",), None, ("process", "process_id")),
    # The steering round's sessions: title, place, attendance, free notes, the snapshot of closed
    # minutes (JSON: each item's title and justification as shown at closing; the pseudonym needs no
    # JSON escaping, so the JSON stays valid), and each agenda item's decision note.
    (SteeringSession, ("title", "place", "participants", "notes", "minutes_json"), None, ("session", "id")),
    (AgendaItem, ("note",), None, ("session", "session_id")),
    (FollowUp, ("body",), ("body", "body_html"), ("follow_up", "id")),
    # Other people's submissions still waiting for their confirmation (a pending submission *by* the
    # person is deleted instead, see ``erase_user``; a confirmed one holds no text any more).
    (Submission, ("name", "title", "body"), None, ("submission", "id")),
)


@dataclass(frozen=True)
class Redaction:
    model: Any
    id: int
    old: dict[str, str | None]
    new: dict[str, str | None]  # with the HTML rendered from a redacted body
    key: tuple[str, int]  # the audit subject it belongs to, e.g. ("recommendation", 12)


def _redactions(person: Person) -> dict[tuple[Any, int], Redaction]:
    """Every table row whose free text mentions the person, with its text redacted (and its Markdown
    rendered again)."""
    found = {}
    for model, columns, markdown, (kind, subject) in TEXTS:
        statement = select(model.id, getattr(model, subject), *(getattr(model, c) for c in columns)).order_by(model.id)
        for row in db.session.execute(statement.execution_options(yield_per=_BATCH)):
            old = dict(zip(columns, row[2:], strict=True))
            if not any(person.names(value) for value in old.values()):
                continue
            new = {c: person.redact(v) for c, v in old.items()}
            if markdown and new.get(markdown[0]) != old.get(markdown[0]):
                new[markdown[1]] = text.render(new[markdown[0]] or "")
            found[(model, row[0])] = Redaction(model, row[0], old, new, (kind, row[1]))
    return found


#: Texts outside the trail that may quote the person: what others were told (a note naming them, in
#: ``notifications.data``) and a mail server's answer (``mails.last_error`` may hold their address).
#: Not audited rows, so they are redacted without a trace in ``user.erased``.
UNAUDITED_TEXTS = ((Notification, "data"), (Mail, "last_error"))


def _unaudited_mentions(person: Person, after: dict[Any, int] | None = None) -> dict[Any, list[int]]:
    """The ids of the rows in ``UNAUDITED_TEXTS`` that mention the person (only those past ``after``'s
    id per model when given: the rows written since a first pass)."""
    found: dict[Any, list[int]] = {}
    for model, column in UNAUDITED_TEXTS:
        statement = select(model.id, getattr(model, column)).order_by(model.id)
        if after is not None:
            statement = statement.where(model.id > after.get(model, 0))
        rows = db.session.execute(statement.execution_options(yield_per=_BATCH))
        found[model] = [row[0] for row in rows if person.names(row[1])]
    return found


def _redact_unaudited(session: Any, person: Person, found: dict[Any, list[int]]) -> None:
    """Replace the mentions in the rows found, as they are now (under the write lock)."""
    for model, column in UNAUDITED_TEXTS:
        for chunk in _chunks(found.get(model, [])):
            for row_id, value in session.execute(select(model.id, getattr(model, column)).where(model.id.in_(chunk))):
                session.execute(
                    update(model)
                    .where(model.id == row_id)
                    .values({column: person.redact(value)})
                    .execution_options(synchronize_session=False)
                )


def _forget_outbox(session: Any, user_id: int) -> tuple[list[int], int]:
    """Under the write lock: delete the person's pending public submissions (what they typed, their
    name and address, waiting for a confirmation nobody can give any more), and everything the outbox
    holds for them: their notifications (the bell) and every mail addressed to them, waiting or sent
    (the worker would compose a waiting one for nobody; a sent one is of no use to anyone now). Other
    people's notifications and mails stay, their texts redacted with the other unaudited texts.
    Returns the ids of the mails deleted (their ``.eml`` files go too) and how many submissions."""
    pending = list(session.scalars(select(Submission.id).where(Submission.user_id == user_id, Submission.confirmed_at.is_(None))))
    theirs = select(Mail.id).where(Mail.user_id == user_id)
    mail_ids = list(session.scalars(theirs))
    session.execute(
        delete(Notification)
        .where(or_(Notification.user_id == user_id, Notification.mail_id.in_(theirs)))
        .execution_options(synchronize_session=False)
    )
    for chunk in _chunks(pending):  # an intake mail about their submission is addressed to them already
        session.execute(delete(Mail).where(Mail.submission_id.in_(chunk)).execution_options(synchronize_session=False))
    session.execute(delete(Mail).where(Mail.user_id == user_id).execution_options(synchronize_session=False))
    # What they followed and how they wanted to be told: nothing more is sent to an erased person, and
    # what someone followed says what they were interested in.
    for model in (Follow, NotificationSetting):
        session.execute(delete(model).where(model.user_id == user_id).execution_options(synchronize_session=False))
    for chunk in _chunks(pending):
        session.execute(delete(Submission).where(Submission.id.in_(chunk)).execution_options(synchronize_session=False))
    return mail_ids, len(pending)


#: The headers of a mail file that name its sender and recipients: a file with the person's address
#: there was written for (or by) them and is deleted; elsewhere a mention is redacted.
_ADDRESS_HEADERS = ("To", "Cc", "Bcc", "From", "Reply-To")


def _forget_mail_files(person: Person, mail_ids: list[int]) -> list[str]:
    """After the erasure's transaction: the mails written as ``.eml`` files into ``MAIL_DIR`` (the
    worker does that when no SMTP server is configured, for a demo). A file of a mail addressed to
    the person (by its mail id, or their address in its headers) is deleted; in any other file a
    mention of the person (the subject, a text part) is replaced by the pseudonym. Files are not in
    the transaction, so this runs only once the erasure is committed. Returns the files that could
    not be read or changed, for the operator to remove by hand."""
    configured = current_app.config.get("MAIL_DIR")
    folder = Path(configured) if configured else None
    if folder is None or not folder.is_dir():
        return []
    theirs = set(mail_ids)
    left = []
    for path in sorted(folder.glob("*.eml")):
        number = path.name.partition("-")[0]  # the worker names a file MAILID-KIND.eml
        try:
            if number.isdigit() and int(number) in theirs:
                path.unlink()
                continue
            message = BytesParser(policy=policy.SMTPUTF8).parsebytes(path.read_bytes())
            if any(person.names(str(value)) for name in _ADDRESS_HEADERS for value in message.get_all(name, [])):
                path.unlink()
                continue
            changed = False
            subject = str(message.get("Subject", ""))
            if person.names(subject):
                message.replace_header("Subject", person.redact(subject))
                changed = True
            for part in message.walk():
                if part.is_multipart() or part.get_content_maintype() != "text":
                    continue
                content = part.get_content()
                if person.names(content):
                    language = part.get("Content-Language")
                    part.set_content(person.redact(content), subtype=part.get_content_subtype(), charset="utf-8")
                    if language:  # set_content clears the Content- headers
                        part["Content-Language"] = language
                    changed = True
            if changed:
                temporary = path.with_suffix(".tmp")
                temporary.write_bytes(message.as_bytes(policy=_MAIL_FILE_POLICY))
                os.replace(temporary, path)
        except (OSError, ValueError, LookupError):
            left.append(str(path))
    return left


def _candidates(person: Person, up_to: int) -> list[int]:
    statement = select(*_FIELDS).where(AuditEvent.seq <= up_to).order_by(AuditEvent.seq)
    return [row.seq for row in db.session.execute(statement.execution_options(yield_per=_BATCH)) if person.candidate(row)]


def _rows(where: Any) -> list[Any]:
    return list(db.session.execute(select(*_FIELDS).where(where).order_by(AuditEvent.seq)))


#: A redacted mail file written again as the worker writes it (notify.mail.FILE_POLICY): lines of up
#: to 998 characters, so a long ``List-Unsubscribe`` link stays one literal line, not encoded words.
_MAIL_FILE_POLICY = policy.SMTPUTF8.clone(max_line_length=998)


def _chunks(values: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _keep_a_superuser(session: Any, user: User, lock: bool = True) -> None:
    """Refuse to erase the last active superuser: the erasure takes the rights away for good (the
    account cannot be reactivated), and nobody would be left to administer the installation on the
    web. Under the write lock (``lock``) the other active superusers' rows are locked, so that two
    erasures at once cannot each count on the other staying."""
    if not (user.is_superuser and user.active):
        return
    others = select(User.id).where(
        User.is_superuser.is_(True), User.active.is_(True), User.erased_at.is_(None), User.id != user.id
    )
    if not session.scalars(others.with_for_update() if lock else others).all():
        raise ValidationError(
            _(
                "%(name)s is the last active superuser: erasing them would leave nobody to administer the "
                "installation; nothing was changed. Create another superuser first "
                "(ratschlag users create EMAIL --name NAME --superuser).",
                name=user.name,
            )
        )


def erase_user(user_id: int, actor: User | None = None) -> Erasure:
    """Erase a person (``actor`` a superuser, or None for the operator at the command line or the
    worker). Refuses a person erased already, a superuser's own account, and the last active
    superuser (``_keep_a_superuser``)."""
    require_superuser(actor)  # before the search, which reads the whole trail
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("there is no user %(id)s", id=user_id))
    if user.erased_at is not None:
        raise ValidationError(_("%(name)s is erased already", name=user.name))
    if actor is not None and actor.id == user.id:
        raise ValidationError(_("you cannot erase your own account"))
    _keep_a_superuser(db.session, user, lock=False)  # at once, before the search; again under the lock
    person = Person(user)
    seen_up_to = audit.head()[0]
    candidates = _candidates(person, seen_up_to)
    prepared = _redactions(person)  # Markdown is rendered before the write transaction
    seen_ids = {model: db.session.scalar(select(func.max(model.id))) or 0 for model, _column in UNAUDITED_TEXTS}
    mentions = _unaudited_mentions(person)  # at least up to seen_ids; what comes after is searched under the lock
    with write_transaction() as session:
        require_superuser(actor)
        user = session.scalars(
            select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
        ).one()
        if user.erased_at is not None:
            raise ValidationError(_("%(name)s is erased already", name=user.name))
        if actor is not None and actor.id == user.id:
            raise ValidationError(_("you cannot erase your own account"))
        _keep_a_superuser(session, user)
        person = Person(user)  # as it is now, under the lock
        mail_ids, withdrawn = _forget_outbox(session, user.id)
        rows = [row for chunk in _chunks(candidates) for row in _rows(AuditEvent.seq.in_(chunk))]
        rows += [row for row in _rows(AuditEvent.seq > seen_up_to) if person.candidate(row)]
        found = holds(person, rows)
        erased = [row.seq for row in found if row.v == 2]
        for chunk in _chunks(erased):
            session.execute(
                update(AuditEvent)
                .where(AuditEvent.seq.in_(chunk))
                .values(data=None, salt=None)
                .execution_options(synchronize_session=False)
            )
        now = utcnow()
        user.name, user.email = pseudonym(user.id), ERASED_EMAIL.format(id=user.id)
        user.password_hash, user.session_token = UNUSABLE_PASSWORD, secrets.token_hex(16)
        user.active, user.is_superuser, user.erased_at = False, False, now
        user.affiliation = None  # the group they stated is theirs too (docs/evaluation.md)
        # The tables' texts, read again under the lock: a text changed since the first pass is redacted
        # as it is now (rendering its Markdown here, a rare race, rather than missing a mention).
        planned = _redactions(person)
        redacted: dict[str, set[int]] = {}
        for key, redaction in planned.items():
            ahead = prepared.get(key)
            if ahead is not None and ahead.old == redaction.old:
                redaction = ahead
            values: dict[str, Any] = dict(redaction.new)
            if redaction.model is Recommendation:  # a client holding the text before cannot write it back
                values["version"] = Recommendation.version + 1
            session.execute(
                update(redaction.model)
                .where(redaction.model.id == redaction.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            redacted.setdefault(redaction.key[0], set()).add(redaction.key[1])
        for model, ids in _unaudited_mentions(person, after=seen_ids).items():  # and what was written since
            mentions[model] = mentions.get(model, []) + ids
        _redact_unaudited(session, person, mentions)
        session.execute(
            update(ApiToken).where(ApiToken.user_id == user.id).values(label="").execution_options(synchronize_session=False)
        )
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        roles = cast(
            CursorResult,
            session.execute(delete(Membership).where(Membership.user_id == user.id).execution_options(synchronize_session=False)),
        ).rowcount
        departments = cast(
            CursorResult,
            session.execute(
                delete(DepartmentMember).where(DepartmentMember.user_id == user.id).execution_options(synchronize_session=False)
            ),
        ).rowcount
        v1_kept = len(found) - len(erased)
        audit.record(
            "user.erased",
            user,
            actor,
            {
                "pseudonym": user.name,
                "erased_events": erased,
                "v1_events_kept": v1_kept,
                "redacted": {kind: sorted(ids) for kind, ids in sorted(redacted.items())},
                "roles_ended": roles,
                "departments_left": departments,
                "submissions_withdrawn": withdrawn,
            },
        )
    forget_roles()
    _compact_search_index()
    _checkpoint()
    left = _forget_mail_files(person, mail_ids)
    return Erasure(user.id, user.name, erased, v1_kept, left)


#: SQLite's full-text indexes (migration 0017): a redacted text leaves its old words in the index's
#: segments until they are merged; PostgreSQL keeps its index in the rows themselves.
_SQLITE_SEARCH_INDEXES = ("recommendation_search", "comment_search")


def _compact_search_index() -> None:
    """Merge SQLite's full-text segments, so that the words of the redacted texts leave the file (the
    connection's ``secure_delete`` zeroes what is freed, app/transactions.py)."""
    if db.engine.dialect.name != "sqlite":
        return
    with write_transaction() as session:
        for index in _SQLITE_SEARCH_INDEXES:
            session.execute(sql(f"INSERT INTO {index}({index}) VALUES ('optimize')"))


#: How long the checkpoint after an erasure waits for other connections (a request, the worker) to
#: finish what they read, in milliseconds: a superuser's request should not hang on a long export.
_CHECKPOINT_WAIT_MS = 2000


def _checkpoint() -> None:
    """On SQLite, copy the write-ahead log into the database file and empty it (``wal_checkpoint
    (TRUNCATE)``): the erasure's pages (and the index merge's) are in the ``-wal`` file, and the old
    pages, with the erased words, stay in the main file until a checkpoint writes the new ones over
    them. A checkpoint that cannot complete (another connection still reads an older snapshot) leaves
    them until the next one (docs/auditing.md); that is logged."""
    if db.engine.dialect.name != "sqlite":
        return
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_CHECKPOINT_WAIT_MS}")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = (cursor.fetchone() or (1,))[0]  # (busy, log frames, frames checkpointed)
        finally:
            cursor.execute("PRAGMA busy_timeout = 30000")  # as app/transactions.py sets it
            cursor.close()
    finally:
        connection.close()
    if busy:
        current_app.logger.warning(
            "erasure: the write-ahead log could not be checkpointed (another connection is reading); "
            "the erased words stay in the -wal file and the database file until the next checkpoint"
        )
