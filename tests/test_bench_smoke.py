"""A short run of the load test, so bench/ cannot rot unnoticed (the real figures are in bench/RESULTS.md)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.server
def test_the_load_test_runs_without_errors():
    result = subprocess.run([sys.executable, str(REPO / "bench" / "load.py"), "--smoke", "--db", "sqlite"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("| sqlite"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert int(cells[3]) > 0 and cells[8] == "0"  # requests made, no errors
    assert "sqlite: ok:" in result.stdout
