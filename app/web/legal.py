"""Legal pages: imprint, privacy notice and accessibility statement, linked from every page's footer.

The operator writes them as Markdown files in the instance folder, ``legal/PAGE.LANG.md`` (or
``legal/PAGE.md`` for every language); the reader's language is preferred, then the installation's,
then English, then whatever the operator wrote. Until then a built-in template in German or English is
shown, with a note to superusers that it still needs the operator's details (docs/operations.md).
Files are rendered and sanitized by ``app.text`` like every other text, once per change of the file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import abort, current_app, render_template
from flask_babel import lazy_gettext as _l

from .. import text
from . import bp
from .common import default_locale, locale

PAGES = {"imprint": _l("Imprint"), "privacy": _l("Privacy notice"), "accessibility": _l("Accessibility statement")}
BUILT_IN = Path(__file__).resolve().parent.parent / "templates" / "legal"
MAX_BYTES = 200_000  # an operator's page longer than this is cut, so rendering stays bounded


@lru_cache(maxsize=64)
def _rendered(path: str, _mtime_ns: int, _size: int) -> str:
    with open(path, "rb") as handle:
        source = handle.read(MAX_BYTES).decode("utf-8", errors="replace")
    return text.render_page(source)


def page_source(page: str) -> tuple[Path, bool]:
    """The file that holds ``page`` in the reader's language, and whether the operator wrote it."""
    languages = list(dict.fromkeys([locale().split("_")[0], default_locale().split("_")[0], "en"]))
    folder = Path(current_app.instance_path) / "legal"
    # The operator's text in any language beats a template with placeholders in the reader's.
    others = sorted(folder.glob(f"{page}.*.md")) if folder.is_dir() else []
    for candidate in [folder / f"{page}.{language}.md" for language in languages] + [folder / f"{page}.md"] + others:
        if candidate.is_file():
            return candidate, True
    for language in languages:
        if (BUILT_IN / f"{page}.{language}.md").is_file():
            return BUILT_IN / f"{page}.{language}.md", False
    return BUILT_IN / f"{page}.en.md", False


@bp.get("/<any(imprint, privacy, accessibility):page>")
def legal(page: str):
    if page not in PAGES:
        abort(404)
    path, own = page_source(page)
    stat = path.stat()
    return render_template(
        "legal/page.html", page=page, title=PAGES[page], content=_rendered(str(path), stat.st_mtime_ns, stat.st_size), own=own
    )
