"""The main path a recommendation page's stepper shows (app/workflow/graph.py ``main_path``)."""
from __future__ import annotations

import textwrap

from tests.conftest import REPO
from app.workflow.definition import load_directory, parse_workflow
from app.workflow.graph import main_path

SHIPPED, _problems = load_directory(REPO / "app" / "workflows")


def test_the_shipped_workflows_main_paths_end_in_their_best_outcome():
    assert main_path(SHIPPED["citizen-recommendation"]) == ["draft", "submitted", "in_moderation", "steering_review", "adopted"]
    assert main_path(SHIPPED["citizen-concern"]) == ["received", "triaged", "forwarded", "answered"]


def test_a_state_off_the_main_path_is_reached_the_longest_way_and_left_towards_the_best_outcome():
    recommendation = SHIPPED["citizen-recommendation"]
    assert main_path(recommendation, "rejected")[-2:] == ["steering_review", "rejected"]
    assert main_path(recommendation, "withdrawn") == ["draft", "submitted", "in_moderation", "withdrawn"]
    text = textwrap.dedent("""
        title: Detour
        initial: a
        states:
          a: {label: A}
          b: {label: B}
          side: {label: Side}
          done: {label: Done, final: true, outcome: adopted}
          lost: {label: Lost, final: true, outcome: rejected}
        transitions:
          - {trigger: go, source: a, dest: b, roles: [author]}
          - {trigger: finish, source: b, dest: done, roles: [author]}
          - {trigger: aside, source: a, dest: side, roles: [author]}
          - {trigger: back, source: side, dest: a, roles: [author]}
          - {trigger: lose, source: side, dest: lost, roles: [author]}
    """)
    workflow, problems = parse_workflow(text, "detour")
    assert problems == [], problems
    assert main_path(workflow) == ["a", "b", "done"]  # ties: the final state listed first
    # Through "side": never back through a state already passed.
    assert main_path(workflow, "side") == ["a", "side", "lost"]
