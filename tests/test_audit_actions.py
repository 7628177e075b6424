"""Every audit action the code can record has words on the audit log page (app/timeline.py,
``ACTION_NAMES``) in English and German, and a row in docs/auditing.md. The actions are found
in the code itself, so a new one cannot be forgotten."""
from __future__ import annotations

import ast

from babel.messages.pofile import read_po

from app import timeline
from tests.conftest import REPO


def _actions_in(node: ast.expr, where: str) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _actions_in(node.body, where) | _actions_in(node.orelse, where)
    raise AssertionError(f"{where}: an audit action that is not written out ({ast.unparse(node)}): write it as a string")


def recorded_actions() -> set[str]:
    """The actions of every ``audit.record(...)`` call in app/."""
    found = set()
    for path in sorted((REPO / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "record"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "audit"
            ):
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                action = node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "action")
                found |= _actions_in(action, where)
    return found


def test_the_code_records_the_actions_we_know_of():
    actions = recorded_actions()
    assert len(actions) > 40  # the search finds the calls at all
    assert {"comment.hidden", "user.activated", "user.deactivated", "submission.expired", "audit.check_requested"} <= actions


def test_every_recorded_action_has_words_in_english_and_german():
    actions = recorded_actions()
    assert actions - set(timeline.ACTION_NAMES) == set(), "add the action's words to ACTION_NAMES in app/timeline.py"
    german = {m.id: m.string for m in read_po((REPO / "app/translations/de/LC_MESSAGES/messages.po").open("rb"), locale="de") if m.id}
    for action in sorted(actions):
        msgid = timeline.ACTION_NAMES[action]._args[0]
        assert german.get(msgid, "").strip(), f"{action}: no German for {msgid!r}"


def test_every_recorded_action_is_documented():
    doc = (REPO / "docs" / "auditing.md").read_text(encoding="utf-8")
    assert {action for action in recorded_actions() if f"`{action}`" not in doc} == set()


def test_the_audit_log_page_says_the_new_actions_in_words(world, people, browser, app):
    from app import services
    from app.services import categories

    people(world)
    categories.create_category(world.process, "verkehr", "Verkehr", None, world.administrator)
    department = services.create_department("bauamt", "Bauamt")
    categories.set_department_active(department, False, world.superuser)
    admin = browser(world.superuser)
    admin.get("/admin/audit")
    assert "Category created" in admin.text and "Department deactivated" in admin.text
    admin.client.get("/language/de")
    admin.get("/admin/audit")
    assert "Kategorie angelegt" in admin.text and "Fachbereich deaktiviert" in admin.text
