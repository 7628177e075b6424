"""What every service checks the same way: submitted texts, their limits, and who administers."""

from __future__ import annotations

import re
from typing import Any, Literal, overload

from flask_babel import gettext as _, lazy_gettext as _l

from .. import text
from ..errors import Forbidden, ServiceError, ValidationError

TITLE_MAX = 200
# Rendered Markdown texts. Rendering (markdown-it-py, then bleach's html5lib) is pure Python: an
# ordinary text costs about 7 ms per 1,000 characters, the costliest legal input about 30 ms, so
# these limits are what keeps every write within 250 ms (docs/security.md, bench/inputs.py). They
# are generous for the domain: CONSUL's proposals allow 6,000 characters, Decidim's comments 1,000.
BODY_MAX = 6_000
COMMENT_MAX = 4_000
NOTE_MAX = 10_000
NAME_MAX = 200

FIELDS = {
    "title": _l("title"),
    "body": _l("body"),
    "note": _l("note"),
    "reason": _l("reason"),
    "e-mail": _l("e-mail"),
    "name": _l("name"),
    "label": _l("label"),
    "slug": _l("slug"),
    "question": _l("question"),
    "description": _l("description"),
    "contact": _l("contact"),
    "links": _l("links"),
}

#: Fields a person types on one line (a title, a name): a line break in one is refused, not stored.
SINGLE_LINE = frozenset({"title", "name", "e-mail", "label", "slug", "place"})
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
SURROGATE = re.compile("[\ud800-\udfff]")
#: Control characters other than tab and line breaks, and the two noncharacters XML 1.0 forbids: no
#: text needs them, and one of them in a title would make every Atom feed that carries it unreadable.
CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@overload
def clean_text(
    value: Any, field: str, max_length: int, required: Literal[True] = True, error: type[ServiceError] = ValidationError
) -> str: ...
@overload
def clean_text(
    value: Any, field: str, max_length: int, required: bool, error: type[ServiceError] = ValidationError
) -> str | None: ...
def clean_text(
    value: Any, field: str, max_length: int, required: bool = True, error: type[ServiceError] = ValidationError
) -> str | None:
    """A submitted text, stripped; blank counts as missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise error(_("%(field)s must not be blank", field=FIELDS.get(field, field)))
        return None
    if not isinstance(value, str):
        raise ValidationError(_("%(field)s must be a string", field=FIELDS.get(field, field)))
    if "\x00" in value:
        raise ValidationError(_("%(field)s must not contain NUL characters", field=FIELDS.get(field, field)))
    if CONTROL.search(value):
        raise ValidationError(_("%(field)s must not contain control characters", field=FIELDS.get(field, field)))
    if SURROGATE.search(value):  # half of a UTF-16 pair (from a command line's undecodable bytes, say): no database stores it
        raise ValidationError(_("%(field)s must be valid Unicode text", field=FIELDS.get(field, field)))
    value = value.strip()
    if field in SINGLE_LINE and ("\n" in value or "\r" in value):
        raise ValidationError(_("%(field)s must be a single line", field=FIELDS.get(field, field)))
    if length(value) > max_length:
        raise ValidationError(_("%(field)s is longer than %(max)s characters", field=FIELDS.get(field, field), max=max_length))
    return value


def length(value: str) -> int:
    """Characters as a person counts them: a browser sends each line break of a text area as CRLF."""
    return len(value) - value.count("\r\n")


def require_superuser(actor: Any) -> None:
    """Installation-wide changes are for superusers (``actor`` None: the operator at the CLI)."""
    if actor is not None and not actor.is_superuser:
        raise Forbidden(_("only superusers administer the installation"))


def render_ahead(value: Any, max_length: int) -> str | None:
    """The safe HTML of a submitted Markdown text, rendered before the write transaction begins
    so that no other writer waits on it; None when ``clean_text`` will refuse the text (it then
    says why, in the order of checks the service keeps)."""
    try:
        cleaned = clean_text(value, "body", max_length)
    except ServiceError:
        return None
    return text.render(cleaned)
