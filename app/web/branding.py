"""The face of an installation: its name, owner, logo and colours, from ``instance/branding.toml``.

Everything is optional; without the file the site wears Ratschlag's own defaults (a clean sans-serif,
a strong blue, generous spacing). Colours that would make text unreadable (below WCAG's 4.5:1
against the text drawn on them) are refused with a warning in the log and the default is kept, so a
typo cannot make buttons illegible. The file is read again whenever it changes (docs/operations.md#branding).
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
#: colour key -> (CSS custom property, the colour it must stand out against, or None when it is a background)
COLOURS = {
    "primary": ("--primary", "#ffffff"),  # buttons (white text on it), links and headings' accents
    "primary_dark": ("--primary-dark", "#ffffff"),  # the navigation band and hover states
    "danger": ("--danger", "#ffffff"),  # destructive buttons
    "header_background": ("--header-bg", None),
    "header_text": ("--header-fg", "header_background"),
}


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
        return f"/* From instance/branding.toml */\n:root {{\n{lines}}}\n"


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
    for key, value in list(colours.items()):
        against = COLOURS[key][1]
        if against is None:
            continue
        other = (
            colours.get(against, "#1d4f91" if against == "header_background" else None)
            if not against.startswith("#")
            else against
        )
        if other and contrast(value, other) < 4.5:
            log.warning(
                "instance/branding.toml: colour %s = %s has a contrast of %.1f:1 against %s, below 4.5:1; ignored",
                key,
                value,
                contrast(value, other),
                other,
            )
            del colours[key]
    if (
        "header_background" in colours
        and "header_text" not in colours
        and contrast(colours["header_background"], "#ffffff") < 4.5
    ):
        log.warning(
            "instance/branding.toml: white text on header_background %s is too faint; set header_text",
            colours["header_background"],
        )
        del colours["header_background"]
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
