"""``noun`` and ``noun_plural``: what a workflow moves (docs/workflows.md)."""
from __future__ import annotations

import pytest

from app.workflow.definition import load_file, parse_workflow
from tests.conftest import REPO
from tests.workflow.test_definition import VALID


def test_a_workflow_names_what_it_moves():
    workflow, problems = parse_workflow(
        "noun: {de: Anliegen, en: concern}\nnoun_plural: {de: Anliegen, en: concerns}\n" + VALID, "small")
    assert problems == []
    assert (workflow.noun.text("en"), workflow.noun_plural.text("en")) == ("concern", "concerns")
    assert (workflow.noun.text("de"), workflow.noun_plural.text("de")) == ("Anliegen", "Anliegen")
    plain, _ = parse_workflow("noun: Vorschlag\nnoun_plural: Vorschläge\n" + VALID, "small")
    assert plain.noun.text("en") == "Vorschlag"


def test_without_them_it_moves_recommendations():
    workflow, problems = parse_workflow(VALID, "small")
    assert problems == []
    assert (workflow.noun.text("en"), workflow.noun_plural.text("en")) == ("recommendation", "recommendations")
    assert (workflow.noun.text("de"), workflow.noun_plural.text("de")) == ("Empfehlung", "Empfehlungen")


def test_the_shipped_concern_workflow_calls_them_concerns():
    workflow, problems = load_file(REPO / "app" / "workflows" / "citizen-concern.yaml")
    assert problems == [] and workflow.noun.text("en") == "concern" and workflow.noun_plural.text("de") == "Anliegen"


@pytest.mark.parametrize("head, fragment", [
    ("noun: {de: Anliegen, en: concern}\n", "small.yaml:1: key 'noun': 'noun' needs 'noun_plural' too"),
    ("noun_plural: {en: concerns}\n", "key 'noun_plural': 'noun_plural' needs 'noun' too"),
    ("noun: ''\nnoun_plural: x\n", "small.yaml:1: key 'noun': must be a non-blank string or a mapping"),
    ("noun: {deutsch: Anliegen}\nnoun_plural: {en: concerns}\n", "key 'noun': 'deutsch' is not a language code"),
    ("noun: {en: concern}\nnoun_plural: [concerns]\n", "small.yaml:2: key 'noun_plural': must be a non-blank string"),
    ("nouns: {en: concerns}\n", "small.yaml:1: unknown key 'nouns'"),
])
def test_bad_nouns_are_clear_problems(head, fragment):
    workflow, problems = parse_workflow(head + VALID, "small", "small.yaml")
    assert workflow is None
    assert any(fragment in str(p) for p in problems), [str(p) for p in problems]
