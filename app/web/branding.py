"""The face of an installation: its name, owner, logo and colours, from ``instance/branding.toml``.

Everything is optional; without the file the site wears Ratschlag's own defaults (a clean sans-serif,
a strong blue, generous spacing). A colour is used for text or behind text: ``primary``,
``primary_dark`` and ``danger`` behind the white text of buttons and as the text of links and
outlined buttons on the page's light backgrounds, ``header_text`` on ``header_background``. Each
such pair must reach WCAG AA's 4.5:1 for text; a colour that misses it anywhere it is used is
refused with an error in the log that says where and by how much, and the default is kept, so a typo
cannot make text illegible. The file is read again whenever it changes (docs/operations.md#branding).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from flask import abort, current_app, make_response, send_file

from . import bp

log = logging.getLogger(__name__)

HEX = re.compile(r"#[0-9a-fA-F]{6}")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
#: colour key -> its CSS custom property, and the default in app/static/style.css.
COLOURS = {
    "primary": ("--primary", "#1d4f91"),  # buttons (white text on it), links, outlined buttons, the stripes
    "primary_dark": ("--primary-dark", "#163a6b"),  # hover states: buttons (white text on it), links
    "danger": ("--danger", "#b3261e"),  # destructive buttons (white text on it), outlined ones (its text)
    "header_background": ("--header-bg", "#163a6b"),  # the navigation band
    "header_text": ("--header-fg", "#ffffff"),  # its links
}
#: WCAG 2.x AA for normal text (1.4.3).
TEXT_CONTRAST = 4.5
WHITE = "#ffffff"
#: The light backgrounds of app/static/style.css that links stand on (a hovered link too).
LINK_BACKGROUNDS = {
    "#ffffff": "the white page",
    "#f3f5f8": "grey boxes and the footer",
    "#fff6dc": "the light yellow of internal notes",
    "#fdecea": "the light red of error messages",
    "#e7f4ea": "the light green of success messages",
}
#: Where a hovered outlined button's text (primary_dark) stands.
HOVER_BACKGROUND = ("#e8eef7", "the light blue of hovered outlined buttons")
#: The destructive buttons' hover: the danger colour this much darker (mixed with black).
DARKER = 0.22


def darker(colour: str, share: float = DARKER) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * (1 - share)):02x}" for c in (r, g, b))


def _direction(colour: str, text: str, background: str) -> str:
    """Which way ``colour`` must move to stand out from its partner."""
    other = background if colour == text else text
    return "lighter" if luminance(other) < 0.18 else "darker"


def pairs(key: str, colours: dict[str, str]) -> list[tuple[str, str, str]]:
    """Where colour ``key`` meets text: (what, the text's colour, the background's colour), with
    the other colours as chosen (or their defaults)."""

    def chosen(name: str) -> str:
        return colours.get(name, COLOURS[name][1])

    colour = colours[key]
    if key == "danger":  # white on it, and (the same contrast) it on white in outlined destructive buttons
        return [("behind the white text of destructive buttons", WHITE, colour)]
    if key in ("primary", "primary_dark"):
        backgrounds = dict(LINK_BACKGROUNDS)
        if key == "primary_dark":
            backgrounds[HOVER_BACKGROUND[0]] = HOVER_BACKGROUND[1]
        return [("behind the white text of buttons", WHITE, colour)] + [
            (f"as the text of links on {name}", colour, background) for background, name in backgrounds.items()
        ]
    if key == "header_text":
        return [("as the navigation's text on header_background", colour, chosen("header_background"))]
    return [("behind the navigation's text (header_text)", chosen("header_text"), colour)]


@dataclass(frozen=True)
class Branding:
    name: str = "Ratschlag"
    owner: str = ""
    logo: Path | None = None
    colours: dict[str, str] = field(default_factory=dict)
    css_version: str = ""

    @property
    def logo_type(self) -> str:
        return LOGO_TYPES[self.logo.suffix.lower()] if self.logo else ""

    def css(self) -> str:
        if not self.colours:
            return ""
        lines = "".join(f"  {COLOURS[key][0]}: {value};\n" for key, value in sorted(self.colours.items()))
        if "danger" in self.colours:  # its hover, which style.css defaults to the default's
            lines += f"  --danger-dark: {darker(self.colours['danger'])};\n"
        if "header_background" in self.colours:  # the navigation's focus ring: the clearer of yellow and black on it
            ring = max(NAV_FOCUS, key=lambda colour: contrast(colour, self.colours["header_background"]))
            lines += f"  --nav-focus: {ring};\n"
        return f"/* From instance/branding.toml */\n:root {{\n{lines}}}\n"


#: The navigation's focus ring: style.css's yellow on the default dark band; on a light band, black.
NAV_FOCUS = ("#ffbf47", "#1b1f24")


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def parse(source: str, folder: Path) -> Branding:
    """A Branding from the text of ``branding.toml``; what is wrong is logged and left at its default."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        log.warning("instance/branding.toml is not valid TOML (%s); the default look is used", error)
        return Branding()
    name = str(data.get("name") or "Ratschlag").strip()[:80]
    owner = str(data.get("owner") or "").strip()[:120]
    logo = None
    if data.get("logo"):
        candidate = (folder / str(data["logo"])).resolve()
        if candidate.suffix.lower() not in LOGO_TYPES:
            log.warning("instance/branding.toml: the logo must be one of %s", ", ".join(LOGO_TYPES))
        elif not candidate.is_relative_to(folder.resolve()) or not candidate.is_file():
            log.warning("instance/branding.toml: no logo file %s in the instance folder", data["logo"])
        else:
            logo = candidate
    given = data.get("colours") or data.get("colors") or {}
    colours: dict[str, str] = {}
    for key, value in given.items() if isinstance(given, dict) else ():
        if key not in COLOURS or not isinstance(value, str) or not HEX.fullmatch(value):
            log.warning(
                "instance/branding.toml: colour %s = %r ignored (known: %s; write #rrggbb)", key, value, ", ".join(COLOURS)
            )
            continue
        colours[key] = value.lower()
    # A colour refused can make another one fail (header_text against header_background): again until none is.
    refused = True
    while refused:
        refused = False
        for key in list(colours):
            failing = [(what, text, back) for what, text, back in pairs(key, colours) if contrast(text, back) < TEXT_CONTRAST]
            if failing:
                what, text, back = min(failing, key=lambda pair: contrast(pair[1], pair[2]))
                log.error(
                    "instance/branding.toml: colour %s = %s refused: used %s, it has a contrast of %.2f:1 "
                    "(text %s on %s), below WCAG AA's %.1f:1 for text; the default %s is used. Choose a %s colour.",
                    key,
                    colours[key],
                    what,
                    contrast(text, back),
                    text,
                    back,
                    TEXT_CONTRAST,
                    COLOURS[key][1],
                    _direction(colours[key], text, back),
                )
                del colours[key]
                refused = True
    version = hashlib.sha256(repr(sorted(colours.items())).encode()).hexdigest()[:10]
    return Branding(name=name, owner=owner, logo=logo, colours=colours, css_version=version)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> Branding:
    file = Path(path)
    return parse(file.read_text(encoding="utf-8"), file.parent)


def current() -> Branding:
    path = Path(current_app.instance_path) / "branding.toml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return Branding()
    return _load(str(path), mtime)


@bp.app_context_processor
def branding_context():
    return {"branding": current()}


@bp.get("/branding.css")
def branding_css():
    response = make_response(current().css())
    response.mimetype = "text/css"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/branding/logo")
def branding_logo():
    brand = current()
    if brand.logo is None:
        abort(404)
    response = send_file(brand.logo, mimetype=brand.logo_type, max_age=300)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
