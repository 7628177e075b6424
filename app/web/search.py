"""The search page: titles, texts and comments across every process, as far as the reader may open them."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from .. import search as full_text
from ..errors import ServiceError
from ..workflow import engine
from . import bp
from .common import page_number


@bp.get("/search")
def search():
    query = request.args.get("q", "").strip()
    page = page_number()
    results, problem = None, None
    if query:
        try:
            results = full_text.search(current_user, query, page)
        except ServiceError as error:
            problem = error.message
    workflows = {
        hit.recommendation.process_id: engine().get(hit.recommendation.process.workflow_id)
        for hit in (results.hits if results else [])
    }
    return render_template(
        "search.html", query=query, results=results, problem=problem, workflows=workflows, max_query=full_text.MAX_QUERY
    ), 400 if problem else 200
