"""Workflow files: each validation rule of docs/workflows.md with its own broken file."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO as REPO_ROOT
from app.workflow.definition import Label, load_directory, load_file, parse_workflow

VALID = """\
title: Small
initial: draft
states:
  draft:
    label: {de: Entwurf, en: Draft}
    visible_to: [author, moderator]
    editable_by: [author]
  review:
    visible_to: [public]
    deadline_days: 14
  done:
    final: true
    outcome: adopted
    visible_to: [public]
transitions:
  - trigger: submit
    source: draft
    dest: review
    roles: [author]
    label: Submit
  - trigger: decide
    source: review
    dest: done
    roles: [administrator]
    requires: [note]
"""


def check(text: str, tmp_path: Path, name: str = "broken") -> list[str]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    workflow, problems = load_file(path)
    assert (workflow is None) == bool(problems)
    return [str(p) for p in problems]


def replace(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def test_the_valid_file_loads_completely(tmp_path):
    assert check(VALID, tmp_path, "small") == []
    workflow, _ = load_file(tmp_path / "small.yaml")
    assert workflow.id == "small"
    assert list(workflow.states) == ["draft", "review", "done"]
    assert workflow.states["draft"].label.text("de") == "Entwurf"
    assert workflow.states["review"].deadline_days == 14
    assert workflow.states["done"].outcome == "adopted"
    assert workflow.transition("review", "decide").requires_note
    assert workflow.transition("draft", "decide") is None
    assert [t.trigger for t in workflow.outgoing("draft")] == ["submit"]


def test_the_shipped_workflows_are_valid():
    workflows, problems = load_directory(REPO_ROOT / "app" / "workflows")
    assert problems == []
    assert set(workflows) == {"citizen-recommendation", "citizen-concern"}


BROKEN = [
    # (case, the broken file, a fragment every matching problem line holds)
    ("yaml does not parse", "title: [unclosed\ninitial: draft\n", "broken.yaml:2: YAML does not parse"),
    ("not a mapping", "- just\n- a list\n", "must be a mapping"),
    ("missing title", replace("title: Small\n", ""), "missing required key 'title'"),
    ("missing initial", replace("initial: draft\n", ""), "missing required key 'initial'"),
    ("missing states", VALID.split("states:")[0] + "transitions: []\n", "missing required key 'states'"),
    ("missing transitions", VALID.split("transitions:")[0], "missing required key 'transitions'"),
    ("initial not declared", replace("initial: draft", "initial: drafts"), "broken.yaml:2: key 'initial': initial state 'drafts' is not a declared state"),
    ("source not declared", replace("source: draft", "source: drat"), "transition 'submit': source 'drat' is not a declared state"),
    ("dest not declared", replace("dest: review", "dest: reveiw"), "transition 'submit': dest 'reveiw' is not a declared state"),
    ("unreachable state", replace("  done:\n", "  orphan:\n    visible_to: [public]\n  done:\n")
     + "  - trigger: close\n    source: orphan\n    dest: done\n    roles: [moderator]\n",
     "state 'orphan': unreachable from the initial state 'draft'"),
    ("non-final without outgoing", replace("  done:\n", "  stuck:\n    visible_to: [public]\n  done:\n")
     + "  - trigger: park\n    source: review\n    dest: stuck\n    roles: [moderator]\n",
     "state 'stuck': a non-final state needs at least one outgoing transition"),
    ("final with outgoing", VALID + "  - trigger: reopen\n    source: done\n    dest: review\n    roles: [moderator]\n",
     "state 'done': a final state must not have outgoing transitions"),
    ("no final reachable", replace("  done:\n", "  loop_a:\n    visible_to: [public]\n  loop_b:\n    visible_to: [public]\n  done:\n")
     + "  - trigger: park\n    source: review\n    dest: loop_a\n    roles: [moderator]\n"
     + "  - trigger: swap\n    source: loop_a\n    dest: loop_b\n    roles: [moderator]\n"
     + "  - trigger: swap\n    source: loop_b\n    dest: loop_a\n    roles: [moderator]\n",
     "state 'loop_a': no final state can be reached from here"),
    ("unknown role in roles", replace("roles: [author]", "roles: [author, mayor]"), "transition 'submit': unknown role 'mayor' in 'roles'"),
    ("unknown role in visible_to", replace("visible_to: [author, moderator]", "visible_to: [author, everybody]"), "state 'draft': unknown role 'everybody' in 'visible_to'"),
    ("public may not edit", replace("editable_by: [author]", "editable_by: [public]"), "state 'draft': unknown role 'public' in 'editable_by'"),
    ("unknown requires", replace("requires: [note]", "requires: [signature]"), "transition 'decide': unknown requirement 'signature'"),
    ("unknown top key", "colour: blue\n" + VALID, "broken.yaml:1: unknown key 'colour'"),
    ("unknown state key", replace("    deadline_days: 14\n", "    deadline_days: 14\n    colour: red\n"), "state 'review': unknown key 'colour'"),
    ("unknown transition key", replace("    label: Submit\n", "    label: Submit\n    after: notify\n"), "transition 'submit': unknown key 'after'"),
    ("trigger not an identifier", replace("trigger: submit", "trigger: submit-now"), "trigger 'submit-now' is not a Python identifier"),
    ("trigger a keyword", replace("trigger: submit", "trigger: class"), "trigger 'class' is not a Python identifier"),
    ("trigger reserved", replace("trigger: submit", "trigger: trigger"), "trigger 'trigger' clashes with a name the engine reserves"),
    ("trigger reserved prefix", replace("trigger: submit", "trigger: is_draft"), "trigger 'is_draft' clashes with a name the engine reserves"),
    ("same trigger twice from one source", VALID + "  - trigger: submit\n    source: draft\n    dest: done\n    roles: [author]\n",
     "trigger 'submit' is declared twice from state 'draft'"),
    ("final without outcome", replace("    outcome: adopted\n", ""), "state 'done': a final state needs an 'outcome'"),
    ("outcome on a non-final state", replace("    deadline_days: 14\n", "    deadline_days: 14\n    outcome: adopted\n"), "state 'review': only a final state has an 'outcome'"),
    ("fewer than two states", "title: One\ninitial: only\nstates:\n  only:\n    final: true\n    outcome: done\ntransitions: []\n", "a workflow needs at least two states"),
    ("bad deadline", replace("deadline_days: 14", "deadline_days: soon"), "state 'review': 'deadline_days' must be a whole number"),
    ("final not boolean", replace("final: true", "final: sometimes"), "state 'done': 'final' must be true or false"),
    ("bad label language", replace("{de: Entwurf, en: Draft}", "{deutsch: Entwurf}"), "'deutsch' is not a language code"),
    ("blank label", replace("label: Submit", "label: ''"), "must be a non-blank string or a mapping"),
    ("state twice", replace("  review:\n", "  draft:\n    visible_to: [public]\n  review:\n"), "key 'draft' appears twice"),
    ("transition without roles", replace("    roles: [author]\n", ""), "transition 'submit': missing required key 'roles'"),
    ("star in a list", replace("source: draft", "source: [draft, '*']"), "'*' stands alone"),
    ("state name not an identifier", replace("  review:", "  in review:").replace("dest: review", "dest: in review").replace("source: review", "source: in review"),
     "state 'in review': a state name must be an identifier"),
]


@pytest.mark.parametrize("case,text,fragment", BROKEN, ids=[c[0] for c in BROKEN])
def test_each_rule_rejects_its_broken_file(case, text, fragment, tmp_path):
    problems = check(text, tmp_path)
    assert problems, f"{case}: no problem reported"
    assert any(fragment in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "broken.yaml")) for p in problems)


def test_every_problem_is_reported_at_once_with_its_line(tmp_path):
    text = replace("initial: draft", "initial: nowhere").replace("roles: [administrator]", "roles: [king]")
    text = text.replace("requires: [note]", "requires: [stamp]")
    problems = check(text, tmp_path)
    assert any(":2: key 'initial'" in p for p in problems)
    king_line = text.splitlines().index("    roles: [king]") + 1
    assert any(f":{king_line}: transition 'decide': unknown role 'king'" in p for p in problems)
    assert any("unknown requirement 'stamp'" in p for p in problems)


def test_a_star_source_means_every_non_final_state():
    text = VALID + "  - trigger: withdraw\n    source: '*'\n    dest: done\n    roles: [author]\n"
    workflow, problems = parse_workflow(text, "star")
    assert problems == []
    assert workflow.transition("draft", "withdraw") and workflow.transition("review", "withdraw")
    assert workflow.transition("done", "withdraw") is None


def test_the_same_trigger_may_leave_different_states():
    text = VALID + "  - trigger: decide\n    source: draft\n    dest: done\n    roles: [moderator]\n"
    workflow, problems = parse_workflow(text, "twice")
    assert problems == []
    assert workflow.transition("draft", "decide").roles == ("moderator",)
    assert workflow.transition("review", "decide").roles == ("administrator",)


def test_a_missing_folder_and_an_empty_folder_are_problems(tmp_path):
    _, problems = load_directory(tmp_path / "nope")
    assert "does not exist" in str(problems[0])
    _, problems = load_directory(tmp_path)
    assert "holds no *.yaml file" in str(problems[0])


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: Entw\xfcrfe\n".encode("latin-1"))
    _, problems = load_file(path)
    assert "cannot be read" in str(problems[0])


def test_labels_fall_back_from_language_to_default_to_any():
    label = Label((("de", "Entwurf"), ("en", "Draft")))
    assert label.text("de") == "Entwurf"
    assert label.text("en_GB") == "Draft"
    assert label.text("fr", "de") == "Entwurf"
    assert label.text("fr", "it") == "Entwurf"
    assert Label.plain("Draft").text("de") == "Draft"


def test_definitions_are_immutable():
    workflow, _ = parse_workflow(VALID, "small")
    with pytest.raises(Exception):
        workflow.initial = "review"
    with pytest.raises(TypeError):
        workflow.states["extra"] = workflow.states["draft"]


# -- statements (docs/api.md, "Departments and statements") -----------------------------------------------------

WITH_STATEMENTS = replace("    deadline_days: 14\n", "    deadline_days: 14\n    statements:\n      requested_by: [administrator]\n      due_days: 21\n") \
    .replace("    requires: [note]\n", "    requires: [note, statements]\n")


def test_statements_load_with_their_roles_and_due_days(tmp_path):
    assert check(WITH_STATEMENTS, tmp_path, "stmts") == []
    workflow, _ = load_file(tmp_path / "stmts.yaml")
    assert workflow.states["review"].statements.requested_by == ("administrator",)
    assert workflow.states["review"].statements.due_days == 21
    assert workflow.states["draft"].statements is None
    assert workflow.transition("review", "decide").requires == ("note", "statements")


def test_the_department_role_may_read_and_fire(tmp_path):
    text = WITH_STATEMENTS.replace("    visible_to: [public]\n    deadline_days", "    visible_to: [department, author]\n    deadline_days") \
        .replace("roles: [administrator]", "roles: [administrator, department]")
    assert check(text, tmp_path, "dept") == []


STATEMENT_CASES = {
    "unknown key in statements": (WITH_STATEMENTS.replace("      due_days: 21\n", "      due_days: 21\n      ask: yes\n"),
                                  "state 'review': unknown key 'ask' in 'statements'"),
    "unknown role in requested_by": (WITH_STATEMENTS.replace("requested_by: [administrator]", "requested_by: [mayor]"),
                                     "unknown role 'mayor' in 'requested_by'"),
    "department may not ask": (WITH_STATEMENTS.replace("requested_by: [administrator]", "requested_by: [department]"),
                               "unknown role 'department' in 'requested_by'"),
    "missing requested_by": (WITH_STATEMENTS.replace("      requested_by: [administrator]\n", ""),
                             "'statements' needs 'requested_by'"),
    "due_days zero": (WITH_STATEMENTS.replace("due_days: 21", "due_days: 0"), "'due_days' must be a whole number"),
    "due_days text": (WITH_STATEMENTS.replace("due_days: 21", "due_days: soon"), "'due_days' must be a whole number"),
    "statements not a mapping": (replace("    deadline_days: 14\n", "    deadline_days: 14\n    statements: yes\n"),
                                 "'statements' must be a mapping"),
    "requires statements without a state that takes them": (
        replace("    requires: [note]\n", "    requires: [note, statements]\n"),
        "transition 'decide': requires 'statements', but none of its source states declares 'statements'"),
    "department not editable_by": (replace("editable_by: [author]", "editable_by: [department]"),
                                   "unknown role 'department' in 'editable_by'"),
    "unknown requirement": (replace("    requires: [note]\n", "    requires: [statement]\n"),
                            "unknown requirement 'statement' (known: note, statements)"),
}


@pytest.mark.parametrize("case", list(STATEMENT_CASES))
def test_statement_rules_reject_their_broken_file(case, tmp_path):
    text, fragment = STATEMENT_CASES[case]
    problems = check(text, tmp_path)
    assert any(fragment in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "broken.yaml")) for p in problems)


# -- answer templates (docs/workflows.md) ----------------------------------------------------


def test_a_final_state_offers_an_answer_template_in_each_language(tmp_path):
    text = replace("    outcome: adopted\n", "    outcome: adopted\n    answer_template: {de: 'Angenommen, weil …', en: 'Adopted because …'}\n")
    assert check(text, tmp_path) == []
    workflow, _ = load_file(tmp_path / "broken.yaml")
    assert workflow.states["done"].answer_template.text("de") == "Angenommen, weil …"
    assert workflow.states["review"].answer_template is None


@pytest.mark.parametrize("template, message", [
    ("''", "must be a non-blank string"),
    ("{deutsch: Ja}", "'deutsch' is not a language code"),
    ("[a, b]", "must be a non-blank string or a mapping"),
])
def test_a_broken_answer_template_is_refused(tmp_path, template, message):
    text = replace("    outcome: adopted\n", f"    outcome: adopted\n    answer_template: {template}\n")
    problems = check(text, tmp_path)
    assert any("state 'done'" in p and message in p for p in problems), problems


def test_only_final_states_offer_answer_templates(tmp_path):
    problems = check(replace("    deadline_days: 14\n", "    deadline_days: 14\n    answer_template: Weil …\n"), tmp_path)
    assert any("state 'review'" in p and "only a final state has an 'answer_template'" in p for p in problems), problems


def test_follow_up_belongs_to_final_states_and_is_true_or_false(tmp_path):
    assert check(replace("    outcome: adopted\n", "    outcome: adopted\n    follow_up: true\n"), tmp_path) == []
    problems = check(replace("    deadline_days: 14\n", "    deadline_days: 14\n    follow_up: true\n"), tmp_path)
    assert any("state 'review'" in p and "only a final state has 'follow_up'" in p for p in problems), problems
    problems = check(replace("    outcome: adopted\n", "    outcome: adopted\n    follow_up: yes please\n"), tmp_path)
    assert any("'follow_up' must be true or false" in p for p in problems), problems
