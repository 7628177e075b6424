"""The version diff: right for ordinary edits, bounded for texts made to be expensive."""
from __future__ import annotations

import random

from app.textdiff import CONTEXT, MAX_CHANGED, MAX_WORK, compare, diff_lines


def apply(rows, side):
    keep = {"old": ("same", "removed"), "new": ("same", "added")}[side]
    return [line for kind, line in rows if kind in keep]


def test_an_ordinary_edit():
    rows = diff_lines("Title\n\none\ntwo\nthree", "Title\n\none\n2\nthree\nfour")
    assert rows == [("same", "Title"), ("same", ""), ("same", "one"), ("removed", "two"), ("added", "2"),
                    ("same", "three"), ("added", "four")]


def test_identical_empty_and_one_sided_texts():
    assert diff_lines("a\nb", "a\nb") == [("same", "a"), ("same", "b")]
    assert diff_lines("", "") == []
    assert diff_lines("", "x\ny") == [("added", "x"), ("added", "y")]
    assert diff_lines("x\ny", "") == [("removed", "x"), ("removed", "y")]


def test_the_rows_always_rebuild_both_texts():
    rng = random.Random(12)
    words = ["alpha", "beta", "", "gamma", "delta", "- item", "> quote"]
    for _ in range(200):
        old = [rng.choice(words) + str(rng.randrange(5)) for _ in range(rng.randrange(0, 40))]
        new = [line for line in old if rng.random() > 0.2]
        for _ in range(rng.randrange(0, 6)):
            new.insert(rng.randrange(len(new) + 1), rng.choice(words))
        old, new = "\n".join(old), "\n".join(new)
        rows = diff_lines(old, new)
        assert rows is not None
        assert apply(rows, "old") == old.splitlines() and apply(rows, "new") == new.splitlines()


def test_scattered_edits_in_a_long_text_are_compared_line_by_line():
    rng = random.Random(3)
    old = [f"Paragraph {i}: the office should act {rng.random()}" for i in range(1800)]
    new = [line + " (edited)" if i % 20 == 0 else line for i, line in enumerate(old)]
    rows = diff_lines("\n\n".join(old), "\n\n".join(new))
    assert rows is not None
    assert sum(kind == "added" for kind, _ in rows) == 90
    assert apply(rows, "new") == "\n\n".join(new).splitlines()


def test_texts_made_to_be_expensive_are_too_different():
    # Each of 100 lines occurs 100 times in a different order: unbounded, this took 20-28 s.
    old = "\n".join(str(i % 100) for i in range(10_000))
    new = "\n".join(str((i * 7) % 100) for i in range(10_000))
    assert diff_lines(old, new) is None


def test_the_budget_is_what_decides():
    old = "\n".join(str(i % 150) for i in range(3_000))
    new = "\n".join(str(i % 151) for i in range(3_000))
    assert diff_lines(old, new, max_work=1_000) is None
    assert diff_lines(old, new, max_work=10**9) is not None
    assert MAX_WORK >= 100_000


def test_a_page_shows_three_lines_around_each_change_and_counts_the_rest():
    old = [f"line {i}" for i in range(100)]
    new = list(old)
    new[10] = "line ten, changed"
    new[80] = "line eighty, changed"
    rows = compare("\n".join(old), "\n".join(new))
    assert rows == [("skipped", "7"), *[("same", f"line {i}") for i in (7, 8, 9)],
                    ("removed", "line 10"), ("added", "line ten, changed"),
                    *[("same", f"line {i}") for i in (11, 12, 13)], ("skipped", "63"),
                    *[("same", f"line {i}") for i in (77, 78, 79)],
                    ("removed", "line 80"), ("added", "line eighty, changed"),
                    *[("same", f"line {i}") for i in (81, 82, 83)], ("skipped", "16")]
    # Changes closer than twice the context share their context: nothing is skipped between them.
    near = list(old)
    near[50], near[55] = "x", "y"
    kinds = [kind for kind, _line in compare("\n".join(old), "\n".join(near))]
    assert kinds == ["skipped", "same", "same", "same", "removed", "added", "same", "same", "same", "same",
                     "removed", "added", "same", "same", "same", "skipped"]
    assert compare("a\nb", "a\nb") == [("skipped", "2")]
    assert compare("a", "b") == [("removed", "a"), ("added", "b")]


def test_past_two_thousand_changed_lines_a_page_says_too_different():
    old = "\n".join(f"old {i}" for i in range(1_000))
    assert compare(old, "\n".join(f"new {i}" for i in range(1_000))) == [("removed", f"old {i}") for i in range(1_000)] + \
        [("added", f"new {i}") for i in range(1_000)]  # exactly 2,000: still shown
    assert compare(old, "\n".join(f"new {i}" for i in range(1_001))) is None
    assert compare("", "\n".join(f"new {i}" for i in range(2_001))) is None  # refused before any comparing
    assert MAX_CHANGED == 2_000 and CONTEXT == 3
