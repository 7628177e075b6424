"""The engine is general: no code in app/ names a state of a shipped workflow."""
from __future__ import annotations

import re

from tests.conftest import REPO as REPO_ROOT
from app.workflow.definition import load_directory


def test_no_code_in_app_names_a_shipped_state():
    workflows, _ = load_directory(REPO_ROOT / "app" / "workflows")
    states = {name for workflow in workflows.values() for name in workflow.states}
    offenders = []
    for path in (REPO_ROOT / "app").rglob("*.py"):
        if "migrations" in path.parts:  # schema history: a statement's 'answered' is not a workflow state
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for literal in re.findall(r"""["']([a-z_]+)["']""", line):
                if literal in states:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {literal}")
    assert offenders == []
