"""``ratschlag departments create|add|list`` (docs/api.md, "Departments and statements")."""
from __future__ import annotations

from app import services
from tests.cli.test_cli import ok, refused
from tests.conftest import audit_count


def test_create_add_and_list(runner, make_user):
    petra = make_user("Petra Planung", email="petra@example.org")
    events = audit_count()
    ok(runner.invoke(args=["departments", "create", "stadtplanung", "--name", "Stadtentwicklungsamt"]),
       "created department stadtplanung (Stadtentwicklungsamt)")
    ok(runner.invoke(args=["departments", "add", "stadtplanung", "Petra@Example.org"]),
       "petra@example.org is now a member of stadtplanung")
    ok(runner.invoke(args=["departments", "add", "stadtplanung", "petra@example.org"]), "was already a member")
    assert audit_count() == events + 2
    listed = ok(runner.invoke(args=["departments", "list"])).stdout
    assert listed == "stadtplanung\tStadtentwicklungsamt\tpetra@example.org\n"
    assert services.find_department("stadtplanung").members[0].user_id == petra.id


def test_mistakes_are_one_line_errors_and_change_nothing(runner, make_user):
    make_user("Petra", email="petra@example.org")
    ok(runner.invoke(args=["departments", "create", "sozialamt", "--name", "Sozialamt"]))
    events = audit_count()
    refused(runner.invoke(args=["departments", "create", "sozialamt", "--name", "Noch eins"]),
            "a department with the slug 'sozialamt' exists already")
    refused(runner.invoke(args=["departments", "create", "Kein Slug", "--name", "X"]),
            "'Kein Slug' is not a usable slug (lower-case letters, digits and '-')")
    refused(runner.invoke(args=["departments", "create", "leer", "--name", "  "]), "name must not be blank")
    refused(runner.invoke(args=["departments", "add", "nirgends", "petra@example.org"]), "there is no department 'nirgends'")
    refused(runner.invoke(args=["departments", "add", "sozialamt", "nobody@example.org"]),
            "there is no user with the e-mail nobody@example.org")
    assert audit_count() == events
    assert runner.invoke(args=["departments", "create", "x"]).exit_code == 2  # --name is required
