"""Numbers that name rows: whole, positive, and small enough for the database's integer columns."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # PostgreSQL's integer; SQLite's is larger


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: like ``<int:name>``, but a number too large for any row becomes 0,
    which no row has: the view answers its ordinary 404 instead of the database failing."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_ID else 0


def parse_id(value: Any) -> int | None:
    """A row id from a query or form value, or None."""
    text = str(value or "")
    # str.isdigit() also accepts '²' and '①', which int() refuses: only ASCII digits name a row.
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID else None
