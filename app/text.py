"""Markdown -> safe HTML: the only place that renders and sanitizes text.

Text is rendered once, when it is written, and the clean HTML is stored beside
the source; read paths never render again. Templates mark only that stored HTML
as safe. A person's headings come one level lower than written (the page's title
is its only h1), and images, Markdown or HTML, become links to them; HTML stored
before either rule keeps what it was.

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
        "h1",  # written as h2 (HEADING_SHIFT)
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
        "img",  # written as a link to it (_UserContent)
    }
)
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title", "rel"],
    "th": ["align"],
    "td": ["align"],
    "ol": ["start"],
    "img": ["src", "alt"],
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


#: A heading of the person's one level below what they wrote: the page's own title is its only h1
#: (``# Heading`` comes out as h2, ``######`` stays h6). Raw HTML headings too.
HEADING_SHIFT = {f"h{level}": f"h{min(level + 1, 6)}" for level in range(1, 7)}
#: An operator's page (app/web/legal.py) starts its sections at ``##`` (docs/operations.md); only a
#: level-1 heading would compete with the page's title.
PAGE_HEADINGS = {"h1": "h2"}


class _UserContent(html5lib_shim.Filter):  # type: ignore[name-defined]  # vendored, untyped
    """After sanitizing, before linking: what people write sits inside a page with its own headings,
    and shows no images. An ``<img>`` written as HTML becomes a link to its (sanitized) address,
    named by its description or else the address, as a Markdown image does (``_images_as_links``);
    inside a link, only its name stays."""

    def __init__(self, source, headings: dict[str, str] = HEADING_SHIFT):
        super().__init__(source)
        self.headings = headings

    def __iter__(self):
        in_link = 0
        for token in super().__iter__():
            kind, name = token["type"], token.get("name")
            if kind in ("StartTag", "EndTag") and name in self.headings:
                yield {**token, "name": self.headings[name]}
            elif name == "img" and kind in ("StartTag", "EmptyTag", "EndTag"):
                if kind != "EndTag":
                    yield from _image_as_link(token, in_link > 0)
            else:
                if name == "a" and kind == "StartTag":
                    in_link += 1
                elif name == "a" and kind == "EndTag":
                    in_link = max(0, in_link - 1)
                yield token


def _image_as_link(token: dict, in_link: bool):
    attributes = token.get("data") or {}
    source = str(attributes.get((None, "src"), "")).strip()
    name = str(attributes.get((None, "alt"), "")).strip() or source
    if source and not in_link:
        yield {"type": "StartTag", "name": "a", "namespace": token.get("namespace"), "data": {(None, "href"): source}}
    if name:
        yield {"type": "Characters", "data": name}
    if source and not in_link:
        yield {"type": "EndTag", "name": "a", "namespace": token.get("namespace")}


def _cleaner_for(headings: dict[str, str]) -> bleach.Cleaner:
    cleaner = bleach.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[
            partial(_UserContent, headings=headings),
            partial(LinkifyFilter, callbacks=[_link_rel], skip_tags={"pre", "code"}),  # type: ignore[list-item]
        ],
    )
    cleaner.walker = _Walker  # type: ignore[assignment]  # bleach's stub names an instance; it calls the class
    return cleaner


_cleaner = _cleaner_for(HEADING_SHIFT)
_page_cleaner = _cleaner_for(PAGE_HEADINGS)


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
        children, in_link = [], 0
        for token in block.children:
            in_link += {"link_open": 1, "link_close": -1}.get(token.type, 0)
            if token.type != "image":
                children.append(token)
                continue
            source = str(token.attrs.get("src", ""))
            text = Token("text", "", 0)
            text.content = token.content or source
            if in_link:  # an image that is a link's content ([![plan](p.png)](p.pdf)): the link keeps its name
                children.append(text)
                continue
            opening = Token("link_open", "a", 1)
            opening.attrs = {"href": source}
            children += [opening, text, Token("link_close", "a", -1)]
        block.children = children


_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING}).enable(
    ["table", "strikethrough"]
)
_markdown.core.ruler.push("align_attribute", _align_attribute)
_markdown.core.ruler.push("images_as_links", _images_as_links)


def render(source: str) -> str:
    """Render Markdown and return HTML that holds nothing executable, and no h1 (HEADING_SHIFT)."""
    return _cleaner.clean(_markdown.render(source)).rstrip("\n")  # no trailing newline, as before


def render_page(source: str) -> str:
    """:func:`render` for an operator's page whose sections start at ``##`` (its headings stay, but no h1)."""
    return _page_cleaner.clean(_markdown.render(source)).rstrip("\n")
