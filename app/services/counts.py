"""The per-state recommendation counts: compare them with the rows, and rebuild them.

Database triggers keep ``recommendation_counts`` in step with ``recommendations`` (migration
0005). Counts can still be wrong if rows were written while the triggers did not exist (an upgrade
to 0005 as first released counted the rows before it created the triggers, without a lock) or if
someone edits the tables by hand. ``ratschlag counts check`` names every difference;
``ratschlag counts rebuild`` counts again from the rows.

A rebuild is not audited: the counts are derived from the rows and say nothing the record does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text

from ..extensions import db
from ..models import COUNT_BLOCK, Process, Recommendation, RecommendationCount
from ..transactions import is_postgresql, write_transaction


@dataclass(frozen=True, order=True)
class Difference:
    process: str
    state: str
    block: int
    stored: int
    counted: int

    def __str__(self) -> str:
        first = self.block * COUNT_BLOCK + 1
        return (
            f"process {self.process}, state {self.state}, numbers {first}-{first + COUNT_BLOCK - 1}: "
            f"stored {self.stored}, counted {self.counted}"
        )


def _block():
    return (Recommendation.number - 1) // COUNT_BLOCK


def _counted(session) -> dict[tuple[int, str, int], int]:
    block = _block()
    rows = session.execute(
        select(Recommendation.process_id, Recommendation.state, block, func.count()).group_by(
            Recommendation.process_id, Recommendation.state, block
        )
    )
    return {(p, s, int(b)): n for p, s, b, n in rows}


def _stored(session) -> dict[tuple[int, str, int], int]:
    rows = session.execute(
        select(RecommendationCount.process_id, RecommendationCount.state, RecommendationCount.block, RecommendationCount.count)
    )
    return {(p, s, b): n for p, s, b, n in rows if n != 0}  # a moved-out state keeps a row of 0


def differences(session=None) -> list[Difference]:
    """Every (process, state, block) whose stored count is not the number of its rows."""
    session = session or db.session
    counted, stored = _counted(session), _stored(session)
    slugs = dict(session.execute(select(Process.id, Process.slug)).all())
    return sorted(
        Difference(slugs.get(p, str(p)), s, b, stored.get((p, s, b), 0), counted.get((p, s, b), 0))
        for p, s, b in counted.keys() | stored.keys()
        if stored.get((p, s, b), 0) != counted.get((p, s, b), 0)
    )


def rebuild() -> list[Difference]:
    """Count again from the rows; returns the differences it repaired. Writers of recommendations
    wait while it runs (on PostgreSQL a SHARE lock on the table; on SQLite the write transaction),
    so no row is written between the count and the new totals."""
    with write_transaction() as session:
        if is_postgresql():
            session.execute(text("LOCK TABLE recommendations IN SHARE MODE"))
        repaired = differences(session)
        if repaired:
            block = _block()
            session.execute(delete(RecommendationCount))
            session.execute(
                insert(RecommendationCount).from_select(
                    ["process_id", "state", "block", "count"],
                    select(Recommendation.process_id, Recommendation.state, block, func.count()).group_by(
                        Recommendation.process_id, Recommendation.state, block
                    ),
                )
            )
    return repaired
