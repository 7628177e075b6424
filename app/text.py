"""Markdown -> safe HTML: the only place that renders and sanitizes text.

Text is rendered once, when it is written, and the clean HTML is stored beside
the source; read paths never render again. Templates mark only that stored HTML
as safe.
"""
from __future__ import annotations

from functools import partial

import bleach
import markdown
from bleach.linkifier import LinkifyFilter

ALLOWED_TAGS = frozenset({
    "p", "br", "hr",
    "em", "strong", "del", "sub", "sup",
    "a",
    "ul", "ol", "li",
    "blockquote",
    "code", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title", "rel"],
    "th": ["align"],
    "td": ["align"],
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"
_HREF = (None, "href")
_REL = (None, "rel")


def _link_rel(attrs: dict, new: bool = False) -> dict:
    """Every link that survives cleaning gets ``rel="nofollow noopener"``."""
    if _HREF in attrs:
        attrs[_REL] = LINK_REL
    return attrs


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_link_rel], skip_tags={"pre", "code"})],
)


def render(source: str) -> str:
    """Render Markdown and return HTML that holds nothing executable."""
    html = markdown.markdown(
        source,
        extensions=["tables", "fenced_code", "sane_lists"],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    return _cleaner.clean(html)
