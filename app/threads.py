"""Comment threads: reading order without recursion, and the bound on how deep replies go.

A chain of 1,000 replies made a recommendation page a permanent 500: the thread walk recursed
once per level and hit Python's recursion limit (issue 12). The walk here keeps its own stack,
so any depth already stored is shown; pages indent at most ``display_depth`` levels and show
deeper replies flat, in order, each naming the comment it answers. New replies are refused
beyond ``MAX_REPLY_DEPTH`` levels (422 ``validation``), documented in docs/api.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from flask_babel import gettext as _
from sqlalchemy import literal, select

from .errors import ValidationError
from .extensions import db
from .models import Comment

MAX_REPLY_DEPTH = 50  # a reply to a top-level comment has depth 1


class _Node(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def parent_id(self) -> int | None: ...


C = TypeVar("C", bound=_Node)


def thread_rows(comments: Iterable[C], display_depth: int) -> list[tuple[C, int, C | None]]:
    """Comments in reading order as (comment, indentation, the comment it answers when shown flat).

    Children follow their parent in the order given (the caller's order: oldest first). A comment
    whose parent is not among ``comments`` (not readable here) starts a thread of its own.
    Replies deeper than ``display_depth`` are indented ``display_depth`` levels and name their parent.
    """
    comments = list(comments)
    by_id = {c.id: c for c in comments}
    children: dict[int | None, list[C]] = {}
    for comment in comments:
        parent = comment.parent_id if comment.parent_id in by_id else None
        children.setdefault(parent, []).append(comment)
    rows: list[tuple[C, int, C | None]] = []
    seen: set[int] = set()
    # A stack of (depth, iterator over siblings still to show): depth-first, without recursion.
    stack = [(0, iter(children.get(None, [])))]
    while stack:
        depth, siblings = stack[-1]
        following = next(siblings, None)
        if following is None:
            stack.pop()
            continue
        comment = following
        if comment.id in seen:  # a cycle cannot be written through the services; never loop on one
            continue
        seen.add(comment.id)
        flat = depth > display_depth
        rows.append(
            (comment, min(depth, display_depth), by_id.get(comment.parent_id) if flat and comment.parent_id is not None else None)
        )
        if comment.id in children:
            stack.append((depth + 1, iter(children[comment.id])))
    return rows


def reply_depth(parent_id: int) -> int:
    """The depth a new reply to comment ``parent_id`` would have: 1 + the parent's ancestors.

    One recursive query that climbs at most ``MAX_REPLY_DEPTH + 1`` levels, so the answer is
    exact up to the limit and ``MAX_REPLY_DEPTH + 1`` for anything deeper (or for a cycle).
    0 when there is no such comment.
    """
    chain = (
        select(Comment.id.label("id"), Comment.parent_id.label("parent_id"), literal(1).label("depth"))
        .where(Comment.id == parent_id)
        .cte("chain", recursive=True)
    )
    parent = db.aliased(Comment)
    chain = chain.union_all(
        select(parent.id, parent.parent_id, chain.c.depth + 1)
        .join(chain, parent.id == chain.c.parent_id)
        .where(chain.c.depth <= MAX_REPLY_DEPTH)
    )
    return db.session.scalar(select(db.func.coalesce(db.func.max(chain.c.depth), 0))) or 0


def check_reply_depth(parent_id: int) -> None:
    """Refuse (422 ``validation``) a reply that would be nested deeper than ``MAX_REPLY_DEPTH``."""
    if reply_depth(parent_id) > MAX_REPLY_DEPTH:
        raise ValidationError(
            _(
                "parent_id: replies may be nested at most %(max)s levels deep; answer a comment higher up in the thread",
                max=MAX_REPLY_DEPTH,
            )
        )
