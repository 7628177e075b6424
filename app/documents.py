"""Documents generated on the server: a page's HTML as an accessible PDF.

The minutes are the session's own page rendered for print (its print stylesheet hides
navigation and forms), turned into a tagged PDF/UA-1 by WeasyPrint: headings, lists and
paragraphs become the PDF's structure tree, the page's ``lang`` its language and its
``<title>`` its title. WeasyPrint needs Pango from the system (Debian:
``apt-get install libpango-1.0-0 libpangoft2-1.0-0``); where it is missing,
``PdfUnavailable`` says so and the pages answer 503 with that sentence.

Nothing is fetched from outside: the stylesheet is read from the package's ``static``
folder and every other address (an image in a statement, say) is refused. The site's
stylesheet is parsed once per process (and again when the file changes) and handed to
WeasyPrint ready-made; that saves about a sixth of a 100-item minutes' rendering.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
STYLESHEET = "style.css"
PANGO_HINT = (
    "PDF documents need WeasyPrint and the Pango library (Debian/Ubuntu: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
)


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the system libraries it needs are missing."""


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as error:  # OSError: the Pango library cannot be loaded
        raise PdfUnavailable(f"{PANGO_HINT}: {error}") from None
    return weasyprint


@cache
def available() -> bool:
    """Whether PDFs can be made here (asked once per process: a failed import is not cached by Python)."""
    try:
        _weasyprint()
    except PdfUnavailable:
        return False
    return True


def _fetcher(weasyprint, static_url: str):
    """Reads the package's static files; refuses every other address (nothing leaves the server)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith(static_url):
                name = url[len(static_url) :].split("?", 1)[0]
                if name == STYLESHEET:  # already parsed: see _stylesheet()
                    return URLFetcherResponse(url, b"", {"Content-Type": "text/css"})
                path = (STATIC / name).resolve()
                if path.is_file() and STATIC in path.parents:
                    return URLFetcherResponse(
                        url,
                        path.read_bytes(),
                        {"Content-Type": "text/css" if name.endswith(".css") else "application/octet-stream"},
                    )
            raise ValueError(f"not fetched for a PDF: {url}")

    return StaticOnly()


@lru_cache(maxsize=1)
def _parsed(weasyprint, modified: int):
    return weasyprint.CSS(string=(STATIC / STYLESHEET).read_text(encoding="utf-8"), media_type="print")


def _stylesheet(weasyprint):
    """The site's stylesheet, parsed once per version of the file (its selectors compiled once too)."""
    return _parsed(weasyprint, (STATIC / STYLESHEET).stat().st_mtime_ns)


@lru_cache(maxsize=1)
def _fonts(weasyprint):
    """One font configuration per process, as WeasyPrint's documentation shows: each document
    building its own set up fontconfig and Pango's font map again (about a tenth of a minutes' time)."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def pdf_from_html(html: str, base_url: str, static_url: str) -> bytes:
    """A tagged PDF/UA-1 of ``html`` (language and title from the page)."""
    weasyprint = _weasyprint()
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_fetcher(weasyprint, static_url))
    return document.write_pdf(pdf_variant="pdf/ua-1", stylesheets=[_stylesheet(weasyprint)], font_config=_fonts(weasyprint))
