"""Full-text search over recommendations (title and body) and their comments, across processes,
filtered in the database by what the reader may open.

The index is the database's own (migration 0017): on PostgreSQL a ``tsvector`` column kept by a trigger
with German stemming and a GIN index, so "Spielplätze" finds "Spielplatz"; on SQLite an FTS5
table (tokenizer ``unicode61 remove_diacritics 2``: case and accents folded, no stemming), where
each word of three letters or more is matched as a prefix instead, so "Spielplatz" finds
"Spielplätze" but not the other way round. That is the one difference between the databases.

What a person types never reaches either query language as syntax: the query is cut into words
(letters and digits only), each word is quoted as a plain term, and all must occur (AND). FTS5's
``NEAR``, ``OR``, ``*``, ``^``, column filters and quotes, and tsquery's ``&|!<->:``, are just
characters that separate words. The cost is bounded: at most ``MAX_QUERY`` characters, the first
``MAX_TERMS`` words of at most ``MAX_TERM`` characters each, and ``MAX_PAGES`` pages.

Visibility is that of the lists (``queries.visible``): a recommendation is found only where the
reader may open it; a comment only counts, and is quoted, where the reader may read its text
(``permissions.can_read_comment_text``: internal notes for the process's moderators and
administrators, hidden comments for its moderators).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Float, Integer, and_, false, func, nulls_last, or_, select, text
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from . import permissions, queries
from .errors import ValidationError
from .extensions import db
from .models import Comment, Process, Recommendation
from .roles import process_roles

MAX_QUERY = 200
MAX_TERMS = 8
MAX_TERM = 40
#: Shorter words match only whole words on SQLite (a one- or two-letter prefix matches too much).
PREFIX_FROM = 3
PER_PAGE = 20
MAX_PAGES = 50
EXCERPT = 200
#: How much of a text is looked through for the passage to show (the database found the words;
#: a match further on shows the text's beginning).
SCANNED = 5_000

WORD = re.compile(r"[^\W_]+")  # letters and digits: no operator or quote of either query language


def terms(query: str) -> list[str]:
    """The words searched for in ``query`` (lower-cased, without repeats); ValidationError when
    it is longer than ``MAX_QUERY`` characters."""
    if len(query) > MAX_QUERY:
        raise ValidationError(_("A search may be at most %(count)s characters long.", count=MAX_QUERY), field="q")
    found: list[str] = []
    for word in WORD.findall(query):
        word = word.casefold()[:MAX_TERM]
        if word not in found:
            found.append(word)
    return found[:MAX_TERMS]


def fts5_query(words: list[str]) -> str:
    """An FTS5 query: each word a quoted string (it holds no quote), a prefix from three letters."""
    return " ".join(f'"{w}"*' if len(w) >= PREFIX_FROM else f'"{w}"' for w in words)


def ts_query(words: list[str]) -> str:
    """A ``to_tsquery('german', ...)`` text: each word a quoted lexeme (it holds no quote or
    backslash), stemmed by the German dictionary, matched as a prefix of the stem."""
    return " & ".join(f"'{w}':*" for w in words)


def _matches(table: str, words: list[str]):
    """(id, score) of the rows of ``table`` whose indexed text holds every word; higher scores first."""
    if db.session.get_bind().dialect.name == "postgresql":
        statement = text(
            f"SELECT id, ts_rank(search_vector, to_tsquery('german', :words)) AS score FROM {table} "
            "WHERE search_vector @@ to_tsquery('german', :words)"
        ).bindparams(words=ts_query(words))
    else:
        fts = {"recommendations": "recommendation_search", "comments": "comment_search"}[table]
        weights = ", 10.0, 1.0" if table == "recommendations" else ""  # a word in the title counts more
        statement = text(f"SELECT rowid AS id, -bm25({fts}{weights}) AS score FROM {fts} WHERE {fts} MATCH :words").bindparams(
            words=fts5_query(words)
        )
    return statement.columns(id=Integer, score=Float).subquery()


@dataclass(frozen=True)
class _Facts:
    visibility: str
    hidden: bool
    author_id: int = 0


def readable_comments(roles: frozenset[str]) -> ColumnElement[bool]:
    """The comments (of a recommendation the reader sees) whose text a holder of ``roles`` may read."""
    allowed = [
        and_(Comment.visibility == visibility, Comment.hidden == hidden)
        for visibility, hidden in product(("public", "internal"), (False, True))
        if permissions.can_read_comment_text(roles, _Facts(visibility, hidden))
    ]
    return or_(false(), *allowed)


def _conditions(user: Any, process: Process | None) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """What ``user`` may see: of the recommendations, and of their comments (with ``Recommendation``
    joined), in ``process`` or in every process."""
    seen, read = [], []
    for each in [process] if process is not None else queries.processes():
        roles = process_roles(user, each.id)
        visible = queries.visible(user, each, roles)
        seen.append(visible)
        read.append(and_(visible, readable_comments(roles)))
    return or_(false(), *seen), or_(false(), *read)


@dataclass
class Hit:
    recommendation: Recommendation
    #: Whether the title or text itself matched (else only a comment the reader may read did).
    in_text: bool
    #: The comment quoted in ``excerpt``, if the excerpt is from one.
    comment_id: int | None = None
    #: The passage around the first match: (text, is a match) pairs.
    excerpt: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Results:
    words: list[str]
    hits: list[Hit]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return min(MAX_PAGES, max(1, -(-self.total // self.per_page)))


def matching_ids(user: Any, query: str, process: Process | None = None):
    """A select of the ids of the recommendations ``query`` finds for ``user`` (None: no words)."""
    words = terms(query)
    if not words:
        return None
    seen, read = _conditions(user, process)
    own, said = _matches("recommendations", words), _matches("comments", words)
    via_comment = select(Comment.recommendation_id).join(Recommendation, Recommendation.id == Comment.recommendation_id)
    via_comment = via_comment.where(Comment.id.in_(select(said.c.id)), read)
    return select(Recommendation.id).where(seen, or_(Recommendation.id.in_(select(own.c.id)), Recommendation.id.in_(via_comment)))


def search(user: Any, query: str, page: int = 1, per_page: int = PER_PAGE, process: Process | None = None) -> Results:
    """One page of what ``query`` finds for ``user``: matches in the text first (the best first),
    then those found in comments only, each group the most recently changed first."""
    words = terms(query)
    if not 1 <= page <= MAX_PAGES:
        raise ValidationError(
            _("Only the first %(count)s pages of hits are shown: make the search more precise.", count=MAX_PAGES), field="page"
        )
    if not words:
        return Results(words, [], 0, page, per_page)
    seen, read = _conditions(user, process)
    own, said = _matches("recommendations", words), _matches("comments", words)
    readable_said = (
        select(Comment.id, Comment.recommendation_id, Comment.body)
        .join(Recommendation, Recommendation.id == Comment.recommendation_id)
        .where(Comment.id.in_(select(said.c.id)), read)
    )
    via_comment = readable_said.with_only_columns(Comment.recommendation_id)
    condition = and_(seen, or_(own.c.id.is_not(None), Recommendation.id.in_(via_comment)))
    base = select(Recommendation).outerjoin(own, own.c.id == Recommendation.id).where(condition)
    total = db.session.scalar(select(func.count()).select_from(base.with_only_columns(Recommendation.id).subquery())) or 0
    rows = db.session.execute(
        base.add_columns(own.c.score)
        .order_by(nulls_last(own.c.score.desc()), Recommendation.updated_at.desc(), Recommendation.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
        .options(selectinload(Recommendation.process), selectinload(Recommendation.author_links))
    ).all()
    hits = [Hit(rec, score is not None) for rec, score in rows]
    quoted: dict[int, tuple[int, str]] = {}
    wanting = [hit.recommendation.id for hit in hits if not hit.in_text]
    if wanting:
        for comment_id, rec_id, body in db.session.execute(
            readable_said.where(Comment.recommendation_id.in_(wanting)).order_by(Comment.id)
        ):
            quoted.setdefault(rec_id, (comment_id, body))
    for hit in hits:
        found = excerpt(hit.recommendation.body, words) if hit.in_text else None
        if not hit.in_text and hit.recommendation.id in quoted:
            hit.comment_id, body = quoted[hit.recommendation.id]
            found = excerpt(body, words)
        hit.excerpt = found if found is not None else [(_plain(hit.recommendation.body)[:EXCERPT], False)]
    return Results(words, hits, total, page, per_page)


# -- the passage shown with a hit --------------------------------------------------

MARKUP = re.compile(r"\]\([^)\s]*\)|[#*_>`|~\[\]]+")


def _plain(markdown: str) -> str:
    return " ".join(MARKUP.sub(" ", markdown).split())


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)).casefold()


def _folded(value: str) -> tuple[str, Sequence[int]]:
    """``value`` lower-cased without accents, and for each of its characters the index it came from."""
    pieces = [_fold(char) for char in value]
    folded = "".join(pieces)
    if len(folded) == len(value):  # the usual case: one character for one
        return folded, range(len(value))
    return folded, [index for index, piece in enumerate(pieces) for _ in piece]


def _stem(word: str) -> str:
    """A word's folded beginning, enough to find it in a passage whatever its ending
    ("spielplätze" finds "Spielplatz"): the databases decide what matches, this only shows where."""
    folded = _folded(word)[0]
    return folded if len(folded) <= 4 else folded[: max(4, len(folded) - 3)]


def excerpt(markdown: str, words: list[str]) -> list[tuple[str, bool]] | None:
    """About ``EXCERPT`` characters of ``markdown`` as plain text around the first word found, the
    words found marked; None when no word is found in its first ``SCANNED`` characters."""
    plain = _plain(markdown[:SCANNED])
    folded, where = _folded(plain)
    patterns = [re.compile(r"(?<!\w)" + re.escape(stem)) for stem in {_stem(w) for w in words if w}]
    firsts = [found.start() for found in (p.search(folded) for p in patterns) if found is not None]
    if not firsts:
        return None
    first = where[min(firsts)]
    begin = max(0, first - EXCERPT // 3)
    if begin:
        space = plain.find(" ", begin)
        begin = space + 1 if 0 <= space < first else begin
    stop = min(len(plain), begin + EXCERPT)
    spans = []
    for pattern in patterns:
        for match in pattern.finditer(folded, bisect_left(where, begin), bisect_left(where, stop)):
            start = where[match.start()]
            end = max(start, where[match.end() - 1] + 1)
            while end < len(plain) and plain[end].isalnum():  # the whole word
                end += 1
            spans.append((start, end))
    parts: list[tuple[str, bool]] = [("… ", False)] if begin else []
    at = begin
    for start, end in sorted(spans):
        if start < at:
            continue
        parts.append((plain[at:start], False))
        parts.append((plain[start : min(end, stop)], True))
        at = min(end, stop)
    parts.append((plain[at:stop] + (" …" if stop < len(plain) or len(markdown) > SCANNED else ""), False))
    return [(piece, mark) for piece, mark in parts if piece]
