"""Pathological inputs: text that costs a naive renderer, differ or parser far more than its length.

Each entry is a name and a function of the size in characters that returns the input, at most
that long (``size`` is the field's limit: COMMENT_MAX for a comment, BODY_MAX for a body (app/services/validation.py)). Used by
``tests/security/test_pathological.py`` (answers are right) and ``bench/inputs.py`` (time).
"""
from __future__ import annotations

from typing import Callable


def repeat(unit: str, head: str = "", tail: str = "") -> Callable[[int], str]:
    def make(size: int) -> str:
        room = max(0, size - len(head) - len(tail))
        return head + unit * (room // len(unit)) + tail
    return make


def nested(opening: str, closing: str, middle: str = "x") -> Callable[[int], str]:
    def make(size: int) -> str:
        n = max(1, (size - len(middle)) // (len(opening) + len(closing)))
        return opening * n + middle + closing * n
    return make


def typical(size: int) -> str:
    """An ordinary document: headings, paragraphs with emphasis and links, lists, a quote, a table, code."""
    block = ("## Section\n\nThe working group recommends that the district office *announces* participation "
             "**six weeks** ahead, see [the guideline](https://example.org/guide) and `§ 3`.\n\n"
             "- first point\n- second point with a [link](https://example.org)\n\n"
             "> A quoted objection from the hearing.\n\n| item | cost |\n|---|--:|\n| flyers | 120 |\n\n"
             "```\nplain code\n```\n\n")
    return (block * (size // len(block) + 1))[:size].rstrip()


def _table(size: int) -> str:
    return repeat("| 1 | 2 |\n", head="| a | b |\n|---|---|\n")(size)


def _wide_table(size: int) -> str:
    columns = 200
    head = "|" + " a |" * columns + "\n|" + "---|" * columns + "\n"
    return repeat("|" + " 1 |" * columns + "\n", head=head)(size)


def _reference_flood(size: int) -> str:
    definitions, uses = [], []
    n = size // 30
    for i in range(n):
        definitions.append(f"[r{i}]: https://e.org/{i}\n")
        uses.append(f"[x][r{i}] ")
    text = "".join(uses) + "\n\n" + "".join(definitions)
    return text[:size]


def _zero_width(size: int) -> str:
    return repeat("a\u200b\u200c\u200d\ufeff")(size)


def _long_single_line_words(size: int) -> str:
    return ("w" * (size // 2) + " ") * 2


def _mixed_markers(size: int) -> str:
    return repeat("*_`~[]()<>!#&|\\-+=")(size)


PATTERNS: list[tuple[str, Callable[[int], str]]] = [
    ("open brackets [", repeat("[")),
    ("close brackets ]", repeat("]")),
    ("image openers ![", repeat("![")),
    ("unclosed links [a](", repeat("[a](")),
    ("unclosed link titles [a](b \"", repeat("[a](b \"")),
    ("nested brackets [[[x]]]", nested("[", "]")),
    ("nested links [[[x](u)](u)](u)", nested("[", "](https://e.org)")),
    ("emphasis *a", repeat("*a")),
    ("emphasis _a", repeat("_a")),
    ("emphasis runs ***a", repeat("***a ")),
    ("nested emphasis *_*_x_*_*", nested("*_", "_*")),
    ("strong underscores __a", repeat("__a")),
    ("strikethrough ~~a", repeat("~~a")),
    ("backticks `a", repeat("`a")),
    ("backtick runs of growing length", lambda size: "".join("`" * i + "a" for i in range(1, 200))[:size]),
    ("angle brackets <", repeat("<")),
    ("autolink openers <http:", repeat("<http:")),
    ("html openers <a ", repeat("<a ")),
    ("html comment floods <!--", repeat("<!--")),
    ("html comment open/close", repeat("<!-- x -->")),
    ("raw html nested <div>", nested("<div>", "</div>")),
    ("raw html nested <em>", nested("<em>", "</em>")),
    ("raw html misnested <b><i>", repeat("<b><i>x</b></i>")),
    ("raw html formatting with attributes", lambda size: "".join(f'<b title="{i}">' for i in range(size // 16))[:size]),
    ("raw html tables <table><tr><td>", repeat("<table><tr><td>")),
    ("entity flood &amp;", repeat("&amp;")),
    ("numeric entities &#x1F600;", repeat("&#x1F600;")),
    ("unterminated entities &aaaa", repeat("&aaaa")),
    ("backslash escapes \\*", repeat("\\*")),
    ("deep blockquotes > > >", repeat("> ")),
    ("deep blockquote lines", lambda size: "".join("> " * i + "x\n" for i in range(1, 400))[:size]),
    ("deep lists - - -", repeat("- ")),
    ("quote-list > - ", repeat("> - ")),
    ("indented nested lists", lambda size: "".join("  " * i + "- x\n" for i in range(0, 300))[:size]),
    ("ordered list markers 1.", repeat("1. ")),
    ("many list items", repeat("- a\n")),
    ("table rows", _table),
    ("wide table", _wide_table),
    ("table pipes only", repeat("|")),
    ("fence lines ```", repeat("```\n")),
    ("tilde fence lines ~~~", repeat("~~~\n")),
    ("unclosed fence", repeat("x\n", head="```\n")),
    ("setext underlines", repeat("a\n=\n")),
    ("heading markers #", repeat("# a\n")),
    ("hard breaks", repeat("a  \n")),
    ("blank lines", repeat("\n", head="a", tail="b")),
    ("link reference flood", _reference_flood),
    ("link reference definitions only", repeat("[a]: b\n")),
    ("bare urls for linkify", repeat("http://e.org/a ")),
    ("bare domains for linkify", repeat("www.e.org ")),
    ("one long line of words", repeat("word ")),
    ("single word, no spaces", repeat("w")),
    ("two half-size words", _long_single_line_words),
    ("zero-width characters", _zero_width),
    ("right-to-left overrides", repeat("\u202eabc\u202c")),
    ("combining marks", repeat("a" + "\u0301" * 9)),
    ("astral characters", repeat("\U0001F600")),
    ("mixed markup characters", _mixed_markers),
    ("tabs and spaces", repeat("\t \t- ")),
]

NAMES = [name for name, _make in PATTERNS]


def corpus(size: int) -> list[tuple[str, str]]:
    """Every pattern at (at most) ``size`` characters, stripped as the services store text."""
    out = []
    for name, make in PATTERNS:
        value = make(size)[:size].strip() or "x"
        out.append((name, value))
    return out
