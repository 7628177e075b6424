"""A workflow's diagram as Graphviz dot, Mermaid, or a self-contained SVG.

Written from the definition rather than through ``transitions``' diagram
extension: that one needs a model bound to the machine and draws the model's
current state as "active", while a workflow's diagram has no current state; and
SVG through it needs the Graphviz binaries. The SVG here needs nothing.
"""

from __future__ import annotations

from collections import deque
from xml.sax.saxutils import escape

from .definition import Workflow


def render(workflow: Workflow, fmt: str, locale: str | None = None) -> str:
    return {"dot": dot, "mermaid": mermaid, "svg": svg}[fmt](workflow, locale)


def _edges(workflow: Workflow, locale: str | None):
    for transition in workflow.transitions:
        for source in transition.sources:
            yield source, transition.dest, transition.display(locale)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(workflow: Workflow, locale: str | None = None) -> str:
    lines = [
        f"digraph {_quote(workflow.id)} {{",
        f"  label={_quote(workflow.title.text(locale))};",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="sans-serif"];',
        '  edge [fontname="sans-serif", fontsize=10];',
        '  "__start__" [shape=point, label=""];',
        f'  "__start__" -> {_quote(workflow.initial)};',
    ]
    for state in workflow.states.values():
        shape = ", peripheries=2" if state.final else ""
        lines.append(f"  {_quote(state.name)} [label={_quote(state.label.text(locale))}{shape}];")
    for source, dest, label in _edges(workflow, locale):
        lines.append(f"  {_quote(source)} -> {_quote(dest)} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines)


def mermaid(workflow: Workflow, locale: str | None = None) -> str:
    def text(value: str) -> str:
        return value.replace('"', "'").replace(":", " ").replace("\n", " ")

    lines = ["---", f"title: {text(workflow.title.text(locale))}", "---", "stateDiagram-v2", "  direction LR"]
    for state in workflow.states.values():
        lines.append(f'  state "{text(state.label.text(locale))}" as {state.name}')
    lines.append(f"  [*] --> {workflow.initial}")
    for source, dest, label in _edges(workflow, locale):
        lines.append(f"  {source} --> {dest}: {text(label)}")
    for state in workflow.states.values():
        if state.final:
            lines.append(f"  {state.name} --> [*]")
    return "\n".join(lines)


# -- SVG: layers by distance from the initial state, top to bottom ---------------

_W, _H, _GAP_X, _GAP_Y, _PAD = 190, 44, 40, 70, 24


def _layers(workflow: Workflow) -> dict[str, int]:
    """Rows: non-final states by their distance from the initial state, every final state in the last row."""
    depth = {workflow.initial: 0}
    queue = deque([workflow.initial])
    while queue:
        name = queue.popleft()
        for transition in workflow.outgoing(name):
            if transition.dest not in depth and not workflow.states[transition.dest].final:
                depth[transition.dest] = depth[name] + 1
                queue.append(transition.dest)
    last = max(depth.values()) + 1
    return {**depth, **{name: last for name, state in workflow.states.items() if state.final}}


def svg(workflow: Workflow, locale: str | None = None, counts: dict[str, int] | None = None) -> str:
    """The diagram as SVG; with ``counts``, each state's label says how many recommendations are in it."""
    depth = _layers(workflow)
    rows: dict[int, list[str]] = {}
    for name in workflow.states:
        rows.setdefault(depth[name], []).append(name)
    widest = max(len(names) for names in rows.values())
    width = _PAD * 2 + widest * _W + (widest - 1) * _GAP_X + 120
    height = _PAD * 2 + len(rows) * _H + (len(rows) - 1) * _GAP_Y + 20
    position: dict[str, tuple[float, float]] = {}
    for row, names in sorted(rows.items()):
        span = len(names) * _W + (len(names) - 1) * _GAP_X
        left = (width - 120 - span) / 2
        for index, name in enumerate(names):
            position[name] = (left + index * (_W + _GAP_X), _PAD + 20 + row * (_H + _GAP_Y))

    title = escape(workflow.title.text(locale))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="wf-title" '
        'font-family="sans-serif" font-size="13">',
        f'<title id="wf-title">{title}</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>',
    ]
    bends: dict[tuple[str, str], int] = {}
    for source, dest, label in _edges(workflow, locale):
        (sx, sy), (dx, dy) = position[source], position[dest]
        key = (source, dest)
        bends[key] = bends.get(key, 0) + 1
        if dy > sy:  # forward: straight down
            x1, y1, x2, y2 = sx + _W / 2, sy + _H, dx + _W / 2, dy
            path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
            lx, ly = (x1 + x2) / 2 + 4, (y1 + y2) / 2 + 4 + (bends[key] - 1) * 14
        else:  # back or sideways: curve out to the right
            x1, y1, x2, y2 = sx + _W, sy + _H / 2, dx + _W, dy + _H / 2
            reach = 40 + 30 * bends[key] + abs(sy - dy) / 4
            path = f"M{x1:.0f},{y1:.0f} C{x1 + reach:.0f},{y1:.0f} {x2 + reach:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            lx, ly = max(x1, x2) + reach * 0.75, (y1 + y2) / 2
        out.append(f'<path d="{path}" fill="none" stroke="#333" marker-end="url(#arrow)"/>')
        out.append(f'<text x="{lx:.0f}" y="{ly:.0f}" font-size="11">{escape(label)}</text>')
    for name, state in workflow.states.items():
        x, y = position[name]
        out.append(f'<g class="state" data-state="{escape(name)}">')
        out.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_W}" height="{_H}" rx="10" fill="#fff" stroke="#333" '
            f'stroke-width="{3 if state.final else 1.5}"/>'
        )
        text = state.label.text(locale) + (f" ({counts.get(name, 0)})" if counts is not None else "")
        out.append(f'<text x="{x + _W / 2:.0f}" y="{y + _H / 2 + 5:.0f}" text-anchor="middle">{escape(text)}</text>')
        out.append("</g>")
    ix, iy = position[workflow.initial]
    out.append(f'<circle cx="{ix + _W / 2:.0f}" cy="{iy - 14:.0f}" r="5" fill="#333"/>')
    out.append("</svg>")
    return "\n".join(out)


# -- the main path: what a stepper shows ------------------------------------------

_MAX_PATHS = 100_000  # a bound on the search: workflow files are small, but never let one hang a page


def _longest(workflow: Workflow, start: str, goals: list[str], avoid: frozenset[str] = frozenset()) -> list[str] | None:
    """The longest simple path from ``start`` to one of ``goals`` not passing ``avoid``; ties go to
    the goal listed first."""
    best: list[str] | None = None
    rank = {name: index for index, name in enumerate(goals)}
    budget = [_MAX_PATHS]

    def better(path: list[str]) -> bool:
        if best is None:
            return True
        return (len(path), -rank[path[-1]]) > (len(best), -rank[best[-1]])

    def walk(path: list[str]) -> None:
        nonlocal best
        budget[0] -= 1
        if budget[0] < 0:
            return
        here = path[-1]
        if here in rank and better(path):
            best = list(path)
        if workflow.states[here].final:
            return
        for dest in dict.fromkeys(t.dest for t in workflow.outgoing(here)):
            if dest not in path and dest not in avoid:
                path.append(dest)
                walk(path)
                path.pop()

    walk([start])
    return best


def main_path(workflow: Workflow, current: str | None = None) -> list[str]:
    """The states a recommendation passes on its way through ``workflow``: the longest path without
    loops from the initial state to a final state (ties: the final state listed first in the file,
    so a workflow lists its best outcome first). Through ``current`` when given: the longest way to
    it, then (unless it is final) the longest way on from it."""
    finals = [name for name, state in workflow.states.items() if state.final]
    main = _longest(workflow, workflow.initial, finals) or [workflow.initial]
    if current is None or current not in workflow.states or current in main:
        return main
    before = _longest(workflow, workflow.initial, [current]) or [current]
    if workflow.states[current].final:
        return before
    after = _longest(workflow, current, finals, frozenset(before[:-1])) or [current]
    return before + after[1:]
