"""Line-by-line comparison of two texts with a bounded cost.

Anyone may compare two versions of a public recommendation, so the cost must not grow with
the square of the text (issue 12): ``difflib.ndiff`` compares the characters of every pair of
similar lines and took 31 s for two 1,800-line revisions. Here the common head and tail are
cut off first (one edit in a long text costs a pass over it); lines that occur once in each
text then anchor the comparison (patience diffing), and the gaps between anchors go to
``difflib.SequenceMatcher`` on whole lines with ``autojunk`` (lines in more than 1 % of a
gap anchor nothing). Its search for the longest matching block costs at
most (lines searched) x (places the most frequent line occurs); that bound is summed before
each search, and past ``MAX_WORK`` the comparison stops: the caller shows "too different to
compare line by line".

What a page shows is :func:`compare`: only ``CONTEXT`` unchanged lines around each change (a
longer unchanged stretch becomes one ``skipped`` row), and past ``MAX_CHANGED`` changed lines
nothing at all ("too different"): a page of tens of thousands of rows cost seconds to render.
"""

from __future__ import annotations

import difflib
from collections import Counter

# About 0.1-0.3 s of the budgeted searches on a slow machine; ordinary revisions of a
# 100,000-character text use a small fraction of it (bench/inputs.py measures both).
MAX_WORK = 250_000
#: Unchanged lines shown before and after each change.
CONTEXT = 3
#: More changed (removed plus added) lines than this are not shown line by line.
MAX_CHANGED = 2_000
Line = tuple[str, str]  # ('same' | 'removed' | 'added', text), or ('skipped', number of unchanged lines left out)


class TooDifferent(Exception):
    """The comparison would cost more than ``MAX_WORK``."""


class _BudgetedMatcher(difflib.SequenceMatcher):
    def __init__(self, a: list[str], b: list[str], budget: int):
        self.budget = budget
        self.widest = None
        super().__init__(None, a, b, autojunk=True)

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        if self.widest is None:
            self.widest = max((len(places) for places in self.b2j.values()), default=1)
        self.budget -= (ahi - alo) * min(self.widest, max(1, bhi - blo)) + (ahi - alo) + (bhi - blo)
        if self.budget < 0:
            raise TooDifferent
        return super().find_longest_match(alo, ahi, blo, bhi)


def _anchors(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Lines that occur exactly once in each text, paired in order (the longest such chain).

    Patience diffing: ordinary prose has mostly unique lines, so these anchors cut a long text
    into short gaps, and the matcher's work stays near linear however many edits there are.
    """
    count_a, count_b = Counter(a), Counter(b)
    in_b = {line: j for j, line in enumerate(b) if count_b[line] == 1}
    pairs = [(i, in_b[line]) for i, line in enumerate(a) if count_a[line] == 1 and line in in_b]
    # Longest increasing subsequence of the b positions, O(k log k), with back links.
    tails: list[int] = []  # tails[n]: index into pairs ending the best chain of length n + 1
    back: list[int] = [-1] * len(pairs)
    for index, (_i, j) in enumerate(pairs):
        n = _bisect(tails, pairs, j)
        if n > 0:
            back[index] = tails[n - 1]
        if n == len(tails):
            tails.append(index)
        else:
            tails[n] = index
    chain, index = [], tails[-1] if tails else -1
    while index >= 0:
        chain.append(pairs[index])
        index = back[index]
    return chain[::-1]


def _bisect(tails: list[int], pairs: list[tuple[int, int]], j: int) -> int:
    low, high = 0, len(tails)
    while low < high:
        mid = (low + high) // 2
        if pairs[tails[mid]][1] < j:
            low = mid + 1
        else:
            high = mid
    return low


def _gap(a: list[str], b: list[str], rows: list[Line], matcher_budget: list[int]) -> None:
    """Rows for a stretch between anchors; charges ``matcher_budget[0]``."""
    if a and b:
        matcher = _BudgetedMatcher(a, b, matcher_budget[0])
        opcodes = matcher.get_opcodes()
        matcher_budget[0] = matcher.budget
        for tag, i1, i2, j1, j2 in opcodes:
            if tag == "equal":
                rows += [("same", line) for line in a[i1:i2]]
            else:
                rows += [("removed", line) for line in a[i1:i2]]
                rows += [("added", line) for line in b[j1:j2]]
    else:
        rows += [("removed", line) for line in a]
        rows += [("added", line) for line in b]


def diff_lines(old: str, new: str, max_work: int = MAX_WORK) -> list[Line] | None:
    """``old`` to ``new`` line by line, or None when they are too different to compare in budget."""
    a, b = old.splitlines(), new.splitlines()
    head = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        head += 1
    tail = 0
    for x, y in zip(reversed(a[head:]), reversed(b[head:]), strict=False):
        if x != y:
            break
        tail += 1
    middle_a, middle_b = a[head : len(a) - tail], b[head : len(b) - tail]
    rows: list[Line] = [("same", line) for line in a[:head]]
    budget = [max_work]
    i = j = 0
    try:
        for anchor_i, anchor_j in _anchors(middle_a, middle_b) + [(len(middle_a), len(middle_b))]:
            _gap(middle_a[i:anchor_i], middle_b[j:anchor_j], rows, budget)
            if anchor_i < len(middle_a):
                rows.append(("same", middle_a[anchor_i]))
            i, j = anchor_i + 1, anchor_j + 1
    except TooDifferent:
        return None
    rows += [("same", line) for line in a[len(a) - tail :]]
    return rows


def compare(
    old: str, new: str, context: int = CONTEXT, max_changed: int = MAX_CHANGED, max_work: int = MAX_WORK
) -> list[Line] | None:
    """What a page shows of ``old`` to ``new``: the changes with ``context`` unchanged lines around
    each, longer unchanged stretches as one ``('skipped', 'N')`` row; None when the texts are too
    different to compare line by line (over ``max_work``, or over ``max_changed`` changed lines)."""
    a, b = old.splitlines(), new.splitlines()
    if abs(len(a) - len(b)) > max_changed:  # at least that many lines were added or removed
        return None
    rows = diff_lines(old, new, max_work)
    if rows is None or sum(kind != "same" for kind, _line in rows) > max_changed:
        return None
    keep = [False] * len(rows)
    for index, (kind, _line) in enumerate(rows):
        if kind != "same":
            for near in range(max(0, index - context), min(len(rows), index + context + 1)):
                keep[near] = True
    shown: list[Line] = []
    skipped = 0
    for row, kept in zip(rows, keep, strict=True):
        if not kept:
            skipped += 1
            continue
        if skipped:
            shown.append(("skipped", str(skipped)))
            skipped = 0
        shown.append(row)
    if skipped:
        shown.append(("skipped", str(skipped)))
    return shown
