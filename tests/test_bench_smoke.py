"""Short runs of bench/, so it cannot rot unnoticed (the real figures are in bench/RESULTS.md)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.server
def test_the_load_test_runs_without_errors():
    output = run(str(REPO / "bench" / "load.py"), "--smoke", "--db", "sqlite")
    row = next(line for line in output.splitlines() if line.startswith("| sqlite"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert int(cells[3]) > 0 and cells[8] == "0"  # requests made, no errors
    assert "sqlite: ok:" in output


@pytest.mark.server
def test_the_benchmarks_run_every_scenario():
    output = run(str(REPO / "bench" / "bench.py"), "--smoke", "--db", "sqlite")
    for scenario in ("transition, 1 client", "transition, 8 clients", "floor, 1 client", "recommendation page, 100 comments",
                     "API list, 500 recs, late page", "audit verify, 5000 events"):
        assert f"| {scenario} | sqlite |" in output, scenario
    assert output.count("- met:") + output.count("- **missed**:") >= 10  # every target is judged


def test_the_audit_chain_benchmark_runs_verify_and_deep():
    output = run(str(REPO / "bench" / "audit_chain.py"), "--smoke", "--db", "sqlite")
    for scenario in ("audit verify, 5000 events", "audit verify --deep, 5000 events"):
        assert f"| {scenario} | sqlite |" in output, scenario
    assert output.count("- met:") + output.count("- **missed**:") == 4  # speed and memory, for each


def test_the_input_benchmark_runs():
    output = run(str(REPO / "bench" / "inputs.py"), "--smoke")
    assert "| comment (1,000) | typical document |" in output and "| body (2,000) | open brackets [ |" in output


def test_the_mail_benchmark_runs():
    output = run(str(REPO / "bench" / "mail.py"), "--smoke", "--db", "sqlite")
    assert "| 50 e-mails, 1 worker | sqlite |" in output and "50 received, 50 distinct Message-IDs" in output
    assert "| reminder pass, 1000 recs, second run | sqlite |" in output and "0 reminders written" in output


@pytest.mark.server
def test_the_paint_benchmark_runs_in_chromium():
    import shutil
    from pathlib import Path
    pytest.importorskip("playwright")
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    output = run(str(REPO / "bench" / "paint.py"), "--smoke")
    for page in ("| front page |", "| process page, 10 items |", "| recommendation, 10 comments |"):
        assert page in output


def test_the_evaluation_benchmark_runs_the_page_and_the_exports():
    output = run(str(REPO / "bench" / "bench.py"), "--only", "evaluation", "--smoke", "--db", "sqlite")
    for scenario in ("evaluation page, 2000 items", "evaluation CSV, 100 items", "open data JSON, 2000 items",
                     "recommendations CSV, 100 items"):
        assert f"| {scenario} | sqlite |" in output, scenario
    assert output.count("- met:") + output.count("- **missed**:") == 4  # the page, the CSV, and each export's memory
