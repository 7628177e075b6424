"""The application as bench/ serves it: ``create_app`` with two instruments that only measuring needs.

gunicorn serves it as ``instruments:create_app()`` with ``bench/`` on its Python path; the product
(``app/``) contains nothing that exists only for measuring.

- ``POST /bench/floor``: the framework floor, one indexed read, one update and one insert in a
  write transaction, answered in JSON: what a write costs in this stack at its minimum. Its two
  tables (bench_floor, bench_log) are created by bench/bench.py, not by the migrations.
- ``X-Queries``: every response says how many SQL statements its request ran.
"""
from __future__ import annotations

from flask import Blueprint, Flask, g, has_request_context, jsonify, request
from sqlalchemy import event, text

from app import create_app as create_product_app
from app.extensions import csrf, db
from app.transactions import write_transaction


def create_app() -> Flask:
    app = create_product_app()
    blueprint = Blueprint("bench", __name__)

    @blueprint.post("/bench/floor")
    def floor():
        floor_id = int(request.args.get("id", "1"))
        with write_transaction() as session:
            counter = session.execute(text("SELECT counter FROM bench_floor WHERE id = :id"), {"id": floor_id}).scalar()
            session.execute(text("UPDATE bench_floor SET counter = counter + 1 WHERE id = :id"), {"id": floor_id})
            session.execute(text("INSERT INTO bench_log (floor_id) VALUES (:id)"), {"id": floor_id})
        return jsonify({"id": floor_id, "counter": counter + 1})

    app.register_blueprint(blueprint)
    csrf.exempt(blueprint)  # the tables it writes are bench/'s own

    def count(*_args, **_kwargs):
        if has_request_context():
            g.bench_queries = g.get("bench_queries", 0) + 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)

    @app.after_request
    def report(response):
        response.headers["X-Queries"] = str(g.get("bench_queries", 0))
        return response

    return app
