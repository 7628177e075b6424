"""Markdown -> safe HTML: the only place that renders and sanitizes text.

Text is rendered once, when it is written, and the clean HTML is stored beside
the source; read paths never render again. Templates mark only that stored HTML
as safe.

Cost. Anyone who may comment chooses the input, so rendering must cost time
linear in its length whatever it holds (issue 12). Python-Markdown's inline
link patterns rescan the rest of the text at every ``[``: 12,000 ``[`` took
29 s. markdown-it-py (CommonMark) is designed for linear time and bounds
nesting (``MAX_NESTING``); bleach's html5lib tree walker looked a node's index
up among all its siblings at every step back up the tree, quadratic in the
number of siblings (16,000 table rows, 12,500 code blocks), so the walker here
keeps the indices as it descends. ``bench/inputs.py`` measures both against a
corpus of pathological inputs (``tests/security/pathological.py``).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import bleach
from bleach import html5lib_shim
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "em",
        "strong",
        "del",
        "s",
        "sub",
        "sup",
        "a",
        "ul",
        "ol",
        "li",
        "blockquote",
        "code",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title", "rel"],
    "th": ["align"],
    "td": ["align"],
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"
# Blockquotes, lists and inline markup nest at most this deep; content nested deeper is not
# rendered (it stays in the stored source). Ordinary documents never come near it.
MAX_NESTING = 20
_HREF = (None, "href")
_REL = (None, "rel")
# What may follow ``href=`` in the final HTML: a scheme from the allow-list, or a relative
# reference (no scheme at all: the first ':' comes after a '/', '?' or '#', or there is none).
_SAFE_HREF = re.compile(r"^(?:(?:https?|mailto):|[^:]*(?:[/?#]|$))", re.IGNORECASE)


def _link_rel(attrs: dict, new: bool = False) -> dict | None:
    """Every link that survives gets ``rel="nofollow noopener"``; one with another scheme is unlinked.

    bleach's sanitizer checks the scheme of links that came from the Markdown, but the
    linkifier runs after it and links bare ``ssh:``, ``ftp:`` or ``xmpp:`` addresses too; this
    callback sees every link, old and new, and keeps only the allowed schemes.
    """
    if _HREF in attrs:
        if not _SAFE_HREF.match(attrs[_HREF].strip()):
            return None  # the text stays, the link goes
        attrs[_REL] = LINK_REL
    return attrs


_EtreeWalker: Any = html5lib_shim.getTreeWalker("etree")  # type: ignore[attr-defined]  # vendored, untyped


class _Walker(_EtreeWalker):
    """html5lib's etree walker, with each ancestor's index kept instead of searched for.

    The vendored walker finds a parent's position with ``list(grandparent).index(parent)``
    (after counting it) whenever it climbs back up: quadratic in the number of siblings.
    Here ``parents`` holds ``(element, index in its own parent)`` pairs; the node tuples keep
    the shape ``(element, index, parents, flag)`` that ``getNodeDetails`` reads.
    """

    def getFirstChild(self, node):
        if isinstance(node, tuple):
            element, key, parents, flag = node
        else:
            element, key, parents, flag = node, None, [], None
        if flag in ("text", "tail"):
            return None
        if element.text:
            return element, key, parents, "text"
        if len(element):
            parents.append((element, key))
            return element[0], 0, parents, None
        return None

    def getNextSibling(self, node):
        if not isinstance(node, tuple):
            return None
        element, key, parents, flag = node
        if flag == "text":
            if len(element):
                parents.append((element, key))
                return element[0], 0, parents, None
            return None
        if element.tail and flag != "tail":
            return element, key, parents, "tail"
        if key < len(parents[-1][0]) - 1:
            return parents[-1][0][key + 1], key + 1, parents, None
        return None

    def getParentNode(self, node):
        if not isinstance(node, tuple):
            return None
        element, key, parents, flag = node
        if flag == "text":
            return element if not parents else (element, key, parents, None)
        parent, parent_key = parents.pop()
        return parent if not parents else (parent, parent_key, parents, None)


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_link_rel], skip_tags={"pre", "code"})],  # type: ignore[list-item]
)
_cleaner.walker = _Walker  # type: ignore[assignment]  # bleach's stub names an instance; it calls the class


def _align_attribute(state) -> None:
    """Table cells say their alignment as ``align="..."`` (bleach removes ``style``), as before."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs:
            style = token.attrs.pop("style", "")
            if style.startswith("text-align:"):
                token.attrs["align"] = style.removeprefix("text-align:")


def _images_as_links(state) -> None:
    """Images are not shown (nothing is loaded from elsewhere, and there are no uploads): each becomes a
    link to the image, named by its description or else its address, so no text vanishes; the drafting
    page says so beside the text field and in the preview."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children = []
        for token in block.children:
            if token.type != "image":
                children.append(token)
                continue
            source = str(token.attrs.get("src", ""))
            opening = Token("link_open", "a", 1)
            opening.attrs = {"href": source}
            text = Token("text", "", 0)
            text.content = token.content or source
            children += [opening, text, Token("link_close", "a", -1)]
        block.children = children


_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING}).enable(
    ["table", "strikethrough"]
)
_markdown.core.ruler.push("align_attribute", _align_attribute)
_markdown.core.ruler.push("images_as_links", _images_as_links)


def render(source: str) -> str:
    """Render Markdown and return HTML that holds nothing executable."""
    return _cleaner.clean(_markdown.render(source)).rstrip("\n")  # no trailing newline, as before
