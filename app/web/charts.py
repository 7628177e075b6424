"""Bar charts drawn on the server as accessible SVG: ``role="img"`` with a ``<title>`` and a
``<desc>`` that say what the chart shows; every chart is followed on its page by a table of the
same data, so nothing is only in the picture. No script, no colour carrying meaning alone (each
bar is labelled with its value)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 220
BAR_HEIGHT = 22
GAP = 8


def bar_chart(ident: str, title: str, description: str, bars: Sequence[tuple[str, float, str]]) -> Markup:
    """A horizontal bar chart; ``bars`` are ``(label, value, value as text)``."""
    top = 4
    height = top + len(bars) * (BAR_HEIGHT + GAP) + 4
    largest = max((value for _label, value, _text in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    for index, (label, value, text) in enumerate(bars):
        y = top + index * (BAR_HEIGHT + GAP)
        width = max(0.0, value) / largest * room
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" text-anchor="end" font-size="14">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" fill="currentColor" opacity="0.55"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + BAR_HEIGHT * 0.7:.1f}" font-size="14">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
