"""The evaluation figures (docs/evaluation.md), per process and installation-wide.

Everything is read from ``statistics_counters`` (kept by triggers, migration 0016) and from a few
indexed aggregates, never by walking the items: a page over 100,000 items reads about as many
rows as one over 100. The figures are aggregates over every item, whatever its state; they name
no item and no person.

Percentiles are nearest-rank over visits that ended: the p-th percentile is the duration of the
visit at rank ``ceil(p * n)`` when the ``n`` durations are sorted. The counters keep durations in
log-scaled buckets (``BOUNDS``), so a percentile is reported as its bucket's upper bound: "half the
items left this state within X" is then true, and X is at most about 19 % above the exact value.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, func, select

from .extensions import db
from .models import Comment, Department, Process, Recommendation, RecommendationAuthor, StatisticsCounter, User, utcnow
from .workflow import engine

#: Bucket b holds durations d (seconds) with BOUNDS[b-1] <= d < BOUNDS[b]; the last (len(BOUNDS))
#: is open-ended. Frozen in migration 0016, which computes buckets in SQL.
BOUNDS = [round(60 * 2 ** (k / 4)) for k in range(0, 92)]
#: Affiliation groups with fewer people than this are not shown, not even as "fewer than".
MIN_GROUP = 5
PERCENTILES = (0.5, 0.9)
#: Days of ``due`` counters are counted from here (UTC, as every stored time).
EPOCH = datetime(1970, 1, 1)


def bucket_of(seconds: float) -> int:
    for b, bound in enumerate(BOUNDS):
        if seconds < bound:
            return b
    return len(BOUNDS)


def bucket_range(bucket: int) -> tuple[int, int | None]:
    """``[low, high)`` of a bucket in seconds; ``high`` None for the open-ended last one."""
    low = BOUNDS[bucket - 1] if bucket > 0 else 0
    return low, BOUNDS[bucket] if bucket < len(BOUNDS) else None


def percentile_bucket(histogram: dict[int, int], p: float) -> int | None:
    """The bucket holding the nearest-rank ``p``-th percentile of a histogram {bucket: count}."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return None  # pragma: no cover - the loop always reaches the rank


def at_most(histogram: dict[int, int], p: float) -> int | None:
    """The reported ``p``-th percentile in seconds: the upper bound of its bucket (None: no data,
    or beyond the last bound, which the page says as "more than ten years")."""
    bucket = percentile_bucket(histogram, p)
    return None if bucket is None else bucket_range(bucket)[1]


@dataclass
class StateFigures:
    name: str
    entered: int = 0
    left: int = 0
    median: int | None = None  # seconds, at most
    p90: int | None = None
    on_time: int = 0
    late: int = 0
    overdue: int = 0

    @property
    def share_on_time(self) -> float | None:
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None


@dataclass
class DepartmentFigures:
    slug: str
    name: str
    requested: int = 0
    answered: int = 0
    declined: int = 0
    on_time: int = 0
    late: int = 0
    median: int | None = None
    p90: int | None = None

    @property
    def open(self) -> int:
        return self.requested - self.answered - self.declined

    @property
    def share_on_time(self) -> float | None:
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None


@dataclass
class Figures:
    """The figures of one process (``process`` set) or of the whole installation."""

    process: Process | None
    states: list[StateFigures] = field(default_factory=list)
    departments: list[DepartmentFigures] = field(default_factory=list)
    follow_up_reports: dict[str, int] = field(default_factory=dict)
    follow_ups_done: int = 0
    overdue: int = 0
    groups: list[tuple[str, int]] = field(default_factory=list)
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def on_time(self) -> int:
        return sum(s.on_time for s in self.states)

    @property
    def late(self) -> int:
        return sum(s.late for s in self.states)

    @property
    def share_on_time(self) -> float | None:
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None


def _state_order(process: Process | None, names: set[str]) -> list[str]:
    """The states in their workflow's order (one process), or the workflows' orders joined."""
    order: list[str] = []
    processes = [process] if process is not None else db.session.scalars(select(Process).order_by(Process.id)).all()
    for each in processes:
        try:
            workflow = engine().get(each.workflow_id)
        except KeyError:  # pragma: no cover - a process on a workflow that is gone
            continue
        order += [name for name in workflow.states if name not in order]
    return order + sorted(names - set(order))


def figures(process: Process | None = None, now: datetime | None = None) -> Figures:
    """The evaluation figures of ``process``, or of every process together."""
    now = now or utcnow()
    where = [StatisticsCounter.process_id == process.id] if process is not None else []
    rows = db.session.execute(
        select(StatisticsCounter.metric, StatisticsCounter.key, StatisticsCounter.bucket, func.sum(StatisticsCounter.n))
        .where(*where)
        .group_by(StatisticsCounter.metric, StatisticsCounter.key, StatisticsCounter.bucket)
    ).all()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    histograms: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for metric, key, bucket, n in rows:
        if metric in ("duration", "st_time"):
            histograms[(metric, key)][bucket] = int(n)
        elif metric != "due":
            counts[(metric, key)] += int(n)

    # Overdue now: the items due on days before today are counted by the triggers (``due`` per
    # state and day); only today's are counted from the index, however many are overdue.
    today = (now - EPOCH).days
    overdue: dict[str, int] = defaultdict(int)
    for metric, key, bucket, n in rows:
        if metric == "due" and bucket < today:
            overdue[key] += int(n)
    processes = [process.id] if process is not None else list(db.session.scalars(select(Process.id)))
    if processes:
        for name, n in db.session.execute(
            select(Recommendation.state, func.count())
            .where(
                Recommendation.process_id.in_(processes),
                Recommendation.due_at >= EPOCH + timedelta(days=today),
                Recommendation.due_at < now,
            )
            .group_by(Recommendation.state)
        ):
            overdue[name] += int(n)
    names = {key for metric, key in counts if metric == "entered"} | set(overdue)
    result = Figures(process, generated_at=now)
    for name in _state_order(process, names):
        histogram = histograms.get(("duration", name), {})
        state = StateFigures(
            name,
            entered=counts.get(("entered", name), 0),
            left=sum(histogram.values()),
            median=at_most(histogram, 0.5),
            p90=at_most(histogram, 0.9),
            on_time=counts.get(("on_time", name), 0),
            late=counts.get(("late", name), 0),
            overdue=int(overdue.get(name, 0)),
        )
        if state.entered or state.overdue:
            result.states.append(state)
    result.overdue = sum(int(n) for n in overdue.values())

    department_ids = {int(key) for metric, key in counts if metric == "st_requested"}
    departments = (
        {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(department_ids)))}
        if department_ids
        else {}
    )
    for department_id in sorted(department_ids, key=lambda i: departments[i].name if i in departments else ""):
        key = str(department_id)
        department = departments.get(department_id)
        histogram = histograms.get(("st_time", key), {})
        result.departments.append(
            DepartmentFigures(
                department.slug if department else key,
                department.name if department else key,
                requested=counts.get(("st_requested", key), 0),
                answered=counts.get(("st_answered", key), 0),
                declined=counts.get(("st_declined", key), 0),
                on_time=counts.get(("st_on_time", key), 0),
                late=counts.get(("st_late", key), 0),
                median=at_most(histogram, 0.5),
                p90=at_most(histogram, 0.9),
            )
        )
    result.follow_up_reports = {key: n for (metric, key), n in counts.items() if metric == "fu_reports"}
    result.follow_ups_done = counts.get(("fu_done", ""), 0)
    result.groups = participation(process)
    return result


def affiliation_groups() -> list[str]:
    """The affiliation groups the installation offers (``AFFILIATION_GROUPS``), in its order."""
    groups = current_app.config.get("AFFILIATION_GROUPS") or []
    if isinstance(groups, str):  # RATSCHLAG_AFFILIATION_GROUPS: separated by semicolons
        groups = groups.split(";")
    return [g.strip() for g in groups if g.strip()]


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight of today in the installation's time zone, as the naive UTC the tables store."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")
    local = (now or utcnow()).replace(tzinfo=UTC).astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC).replace(tzinfo=None)


def participation(process: Process | None = None, until: datetime | None = None) -> list[tuple[str, int]]:
    """People who took part (wrote an item or a comment) before ``until`` (by default the start of
    today), per affiliation group they stated, for the groups the installation offers; groups of
    fewer than ``MIN_GROUP`` people are left out.

    Counting up to yesterday, not live: a live count that grew right after someone's public
    comment would tell a watcher which group that person stated."""
    offered = affiliation_groups()
    if not offered:
        return []
    until = until or start_of_today()
    authored = (
        select(RecommendationAuthor.user_id)
        .join(Recommendation)
        .where(RecommendationAuthor.user_id == User.id, Recommendation.created_at < until)
    )
    commented = select(Comment.id).join(Recommendation).where(Comment.author_id == User.id, Comment.created_at < until)
    if process is not None:
        authored = authored.where(Recommendation.process_id == process.id)
        commented = commented.where(Recommendation.process_id == process.id)
    rows = dict(
        db.session.execute(
            select(User.affiliation, func.count())
            .where(User.affiliation.in_(offered), User.erased_at.is_(None), exists(authored) | exists(commented))
            .group_by(User.affiliation)
        ).all()
    )
    return [(group, int(rows[group])) for group in offered if rows.get(group, 0) >= MIN_GROUP]


# -- CSV --------------------------------------------------------------------------------------

CSV_COLUMNS = ("section", "key", "label", "count", "entered", "left", "median_seconds_at_most",
               "p90_seconds_at_most", "on_time", "late", "share_on_time", "overdue_now")  # fmt: skip


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _seconds(value: int | None) -> str:
    return "" if value is None else str(value)


def csv_rows(result: Figures, state_label=lambda name: name) -> Iterator[str]:
    """The figures as CSV, one section per kind of row (docs/evaluation.md)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def row(*values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield row(*CSV_COLUMNS)
    for s in result.states:
        yield row("state", s.name, state_label(s.name), "", s.entered, s.left, _seconds(s.median), _seconds(s.p90),
                  s.on_time, s.late, _share(s.share_on_time), s.overdue)  # fmt: skip
    for d in result.departments:
        yield row("statements", d.slug, d.name, d.requested, "", d.answered + d.declined, _seconds(d.median),
                  _seconds(d.p90), d.on_time, d.late, _share(d.share_on_time), d.open)  # fmt: skip
    for status, n in sorted(result.follow_up_reports.items()):
        yield row("follow_up_reports", status, status, n, "", "", "", "", "", "", "", "")
    yield row("follow_ups_done", "", "", result.follow_ups_done, "", "", "", "", "", "", "", "")
    yield row("total", "", "", "", "", "", "", "", result.on_time, result.late, _share(result.share_on_time), result.overdue)
    for group, n in result.groups:
        yield row("affiliation", group, group, n, "", "", "", "", "", "", "", "")
