"""Open data and feeds of a process: what the public may see, for anyone to reuse (docs/open-data.md).

Exports stream (JSON, and CSV of recommendations and of statements) in the memory of one batch;
the Atom feeds hold the newest 50 decisions and the 50 public recommendations that most recently
entered their state. Every answer is the anonymous visitor's view, whoever asks.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree

from flask import Response, stream_with_context, url_for
from flask_babel import gettext as _

from .. import opendata
from ..models import Process
from ..services.validation import CONTROL
from ..workflow import engine
from . import bp
from .common import default_locale, locale, noun, process_or_404

ATOM = "http://www.w3.org/2005/Atom"
ElementTree.register_namespace("", ATOM)


def _links(process: Process):
    base = url_for("web.process", slug=process.slug, _external=True)
    return base, (lambda number: f"{base}/recommendations/{number}")


def _download(chunks, mimetype: str, filename: str) -> Response:
    return Response(
        stream_with_context(chunks), mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@bp.get("/processes/<slug>/open-data.json")
def open_data_json(slug: str):
    process = process_or_404(slug)
    base, url = _links(process)
    head = {
        "schema": opendata.SCHEMA,
        "process": {
            "slug": process.slug,
            "title": process.title,
            "workflow": process.workflow_id,
            "status": process.status,
            "url": base,
        },
    }
    return _download(
        opendata.json_lines(opendata.public(process), head, url), "application/json", f"{process.slug}-open-data.json"
    )


@bp.get("/processes/<slug>/recommendations.csv")
def open_data_recommendations(slug: str):
    process = process_or_404(slug)
    _base, url = _links(process)
    return _download(
        opendata.recommendations_csv(opendata.public(process), url), "text/csv", f"{process.slug}-recommendations.csv"
    )


@bp.get("/processes/<slug>/statements.csv")
def open_data_statements(slug: str):
    process = process_or_404(slug)
    return _download(opendata.statements_csv(opendata.public(process)), "text/csv", f"{process.slug}-statements.csv")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (NUL, control characters, U+FFFE/U+FFFF):
    the services refuse them, but a text stored before they did must not make the feed unreadable."""
    return CONTROL.sub("", text.replace("\x00", ""))


def _feed(process: Process, feed_url: str, title: str, entries: list[dict]) -> Response:
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    ElementTree.SubElement(feed, f"{{{ATOM}}}id").text = feed_url
    ElementTree.SubElement(feed, f"{{{ATOM}}}title").text = _xml(title)
    updated = max((e["updated"] for e in entries), default=process.created_at)
    ElementTree.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(updated)
    ElementTree.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=feed_url, type="application/atom+xml")
    ElementTree.SubElement(
        feed, f"{{{ATOM}}}link", rel="alternate", href=url_for("web.process", slug=process.slug, _external=True), type="text/html"
    )
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    ElementTree.SubElement(author, f"{{{ATOM}}}name").text = process.title
    for item in entries:
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        ElementTree.SubElement(entry, f"{{{ATOM}}}id").text = item["id"]
        ElementTree.SubElement(entry, f"{{{ATOM}}}title").text = _xml(item["title"])
        ElementTree.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(item["updated"])
        if item.get("published"):
            ElementTree.SubElement(entry, f"{{{ATOM}}}published").text = _stamp(item["published"])
        ElementTree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=item["link"], type="text/html")
        if item.get("content"):
            ElementTree.SubElement(entry, f"{{{ATOM}}}content", type=item.get("type", "text")).text = _xml(item["content"])
    body = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/atom+xml")


@bp.get("/processes/<slug>/decisions.atom")
def decisions_feed(slug: str):
    process = process_or_404(slug)
    workflow = engine().get(process.workflow_id)
    _base, url = _links(process)
    entries = [
        {
            "id": url(row.number) + "#decision",
            "link": url(row.number),
            "updated": row.decided_at,
            "title": f"{workflow.state_label(row.state, locale(), default_locale())}: {row.title}",
            "content": row.note or "",
        }
        for row in opendata.latest_decisions(process)
    ]
    return _feed(
        process,
        url_for("web.decisions_feed", slug=slug, _external=True),
        _("Decisions in “%(title)s”", title=process.title),
        entries,
    )


@bp.get("/processes/<slug>/new.atom")
def new_items_feed(slug: str):
    process = process_or_404(slug)
    workflow = engine().get(process.workflow_id)
    _base, url = _links(process)
    entries = [
        {
            "id": url(row.number),
            "link": url(row.number),
            "updated": row.state_entered_at,
            "published": row.created_at,
            "title": f"{noun(workflow, capital=True)} {row.number}: {row.title}",
            "content": row.body_html,
            "type": "html",
        }
        for row in opendata.latest_public(process)
    ]
    return _feed(
        process, url_for("web.new_items_feed", slug=slug, _external=True), _("New in “%(title)s”", title=process.title), entries
    )
