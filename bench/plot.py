"""Latency against data size, as one SVG: lists by recommendations, threads by comments, per database.

    python bench/plot.py bench/results/STAMP.json    # writes bench/results/STAMP.svg

bench.py calls ``write`` after every recorded run. Plain SVG written by hand: four small
line charts do not need a plotting library.
"""
from __future__ import annotations

import json
import math
import sys
from html import escape
from pathlib import Path

PANELS = (  # (title, kinds, how the size is written in the scenario names)
    ("Lists", [f"{surface}, {{}} recs, {page}" for surface in ("process page", "API list")
               for page in ("first page", "filtered", "late page")]),
    ("Comment threads", ["recommendation page, {} comments", "API comment list, {} comments"]),
)
COLOURS = ("#1b6ca8", "#d1495b", "#2e8540", "#8e44ad", "#e67e22", "#555555")
WIDTH, HEIGHT, MARGIN = 430, 260, 48


def series(scenarios: dict, pattern: str) -> list[tuple[int, float]]:
    """(size, p50) for every size of one kind of scenario."""
    head, tail = pattern.split("{}")
    points = []
    for name, figures in scenarios.items():
        if name.startswith(head) and name.endswith(tail):
            size = name[len(head):len(name) - len(tail)]
            if size.isdigit():
                points.append((int(size), figures["p50"]))
    return sorted(points)


def panel(x0: int, y0: int, title: str, lines: list[tuple[str, list[tuple[int, float]]]]) -> list[str]:
    sizes = sorted({size for _label, points in lines for size, _ in points})
    top = max((p50 for _label, points in lines for _, p50 in points), default=1) * 1.1
    low, high = math.log10(sizes[0]), math.log10(sizes[-1]) if len(sizes) > 1 else math.log10(sizes[0]) + 1
    left, bottom, right, upper = x0 + MARGIN, y0 + HEIGHT - 30, x0 + WIDTH - 150, y0 + 42

    def x(size: int) -> float:
        return left + (math.log10(size) - low) / (high - low) * (right - left)

    def y(ms: float) -> float:
        return bottom - ms / top * (bottom - upper)
    out = [f'<text x="{x0 + 8}" y="{y0 + 16}" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
           f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{upper}" stroke="#999"/>',
           f'<text x="{left - 40}" y="{upper - 8}" font-size="10">p50 ms</text>']
    for step in range(5):
        ms = top * step / 4
        out.append(f'<text x="{left - 6}" y="{y(ms) + 3:.1f}" font-size="10" text-anchor="end">{ms:.0f}</text>')
    for size in sizes:
        out.append(f'<text x="{x(size):.1f}" y="{bottom + 14}" font-size="10" text-anchor="middle">{size:,}</text>')
    for n, (label, points) in enumerate(lines):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{x(size):.1f},{y(ms):.1f}" for size, ms in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.extend(f'<circle cx="{x(size):.1f}" cy="{y(ms):.1f}" r="2.5" fill="{colour}"/>' for size, ms in points)
        out.append(f'<text x="{right + 10}" y="{upper + 12 + 14 * n}" font-size="10" fill="{colour}">{escape(label)}</text>')
    return out


def svg(results: dict) -> str:
    body = []
    for row, (database, figures) in enumerate(results.items()):
        for column, (title, patterns) in enumerate(PANELS):
            lines = [(pattern.replace("{} recs, ", "").replace(", {} comments", ""), series(figures["scenarios"], pattern))
                     for pattern in patterns]
            lines = [(label, points) for label, points in lines if points]
            if lines:
                body += panel(column * WIDTH, row * HEIGHT, f"{title}, {database}", lines)
    width, height = WIDTH * len(PANELS), HEIGHT * len(results)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
            f'font-size="12"><rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>\n")


def write(json_file: Path) -> Path:
    target = json_file.with_suffix(".svg")
    target.write_text(svg(json.loads(json_file.read_text())["results"]), encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
