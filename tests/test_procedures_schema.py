"""Revision 0014: the overview of procedures' columns, kept to their values by the database on both
backends, and an upgrade of a database whose processes already have members and recommendations."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db


@pytest.mark.parametrize("statement", [
    "UPDATE processes SET status = 'cancelled'",
    "UPDATE processes SET participation = 'veto'",
    "UPDATE processes SET starts_on = '2027-05-01', ends_on = '2027-04-30'",
])
def test_the_database_refuses_what_the_service_refuses(app, world, statement):
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text(statement))
    db.session.rollback()
    db.session.execute(sa.text("UPDATE processes SET status = 'finished', participation = 'co-decide', "
                               "starts_on = '2027-04-30', ends_on = '2027-04-30'"))
    db.session.rollback()


def test_an_installation_in_use_upgrades_and_downgrades(tmp_path):
    from flask_migrate import downgrade, upgrade
    from app import create_app
    from tests.conftest import BASE_CONFIG
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}",
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    with app.app_context():
        upgrade(revision="0008")
        for statement in (
            "INSERT INTO users (id, email, name, password_hash, is_superuser, active, created_at, session_token) "
            "VALUES (1, 'a@example.org', 'A', 'x', 0, 1, '2026-01-01', 'token')",
            "INSERT INTO processes (id, slug, title, workflow_id, created_at) "
            "VALUES (1, 'old', 'Old process', 'citizen-recommendation', '2026-01-01')",
            "INSERT INTO memberships (user_id, process_id, role, created_at) VALUES (1, 1, 'member', '2026-01-01')",
        ):
            db.session.execute(sa.text(statement))
        db.session.commit()
        db.session.remove()
        upgrade()
        row = db.session.execute(sa.text("SELECT status, description, links_json, starts_on FROM processes")).one()
        assert tuple(row) == ("running", "", "[]", None)
        db.session.remove()
        downgrade(revision="0008")
        columns = [c["name"] for c in sa.inspect(db.engine).get_columns("processes")]
        assert "status" not in columns and "links_json" not in columns
        assert db.session.execute(sa.text("SELECT count(*) FROM memberships")).scalar() == 1
        db.session.remove()
        db.engine.dispose()
