"""Mutation testing of the modules that decide who may do what and what is recorded: ``make mutation``.

For each target below, every mutation site in the named functions is changed, one at a time,
in a copy of the repository, and only the test files that belong to that code run against it
(SQLite, one file after another with ``-x``: the first failure kills the mutant). A mutant that every test survives is
a change no test notices: a test is missing, or the mutant means the same as the original.

Mutations: a comparison turned around (``==``/``!=``, ``<``/``<=``, ``>``/``>=``, ``in``/``not in``,
``is``/``is not``), ``and``/``or`` swapped, a ``not`` dropped, ``True``/``False`` swapped, an integer
changed by one, ``+``/``-`` swapped, and a condition of an ``if`` replaced by ``True`` or ``False``.
No third-party mutation tool: mutmut rewrites the files in place and runs the whole suite per
mutant; this is a hundred lines, runs the few relevant files, and leaves the checkout alone.

    python bench/mutation.py             # every target; prints the survivors and the score
    python bench/mutation.py --record    # ... and adds the score to bench/RESULTS.md
    python bench/mutation.py --only permissions --list   # the mutants, without running them
"""
from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    functions: tuple[str, ...]  # qualified names ("Engine.move"); empty: the whole module
    tests: tuple[str, ...]


TARGETS = (
    Target("permissions", "app/permissions.py", (),
           ("tests/test_permissions.py", "tests/workflow/test_machines.py", "tests/test_audit_v2.py")),
    Target("machines", "app/workflow/machines.py", (),
           ("tests/workflow/test_machines.py", "tests/workflow/test_service.py")),
    Target("fire", "app/services/recommendations.py", ("fire", "check_version"),
           ("tests/workflow/test_service.py", "tests/test_transactions.py")),
    Target("audit", "app/audit.py",
           ("compute_hash", "digest_data", "compute_hash_v2", "record", "_stored_hash", "verify_rows"),
           ("tests/test_audit.py", "tests/test_audit_v2.py")),
)

SWAP_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


def _inside(tree: ast.Module, functions: tuple[str, ...]) -> set[int]:
    """The ids of the nodes inside the named functions (all function bodies when none are named)."""
    chosen: set[int] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if isinstance(child, ast.ClassDef):
                    visit(child, name + ".")
                elif not functions or name in functions or child.name in functions:
                    body = child.body[1:] if ast.get_docstring(child) else child.body
                    chosen.update(id(n) for stmt in body for n in ast.walk(stmt))
                else:
                    visit(child, name + ".")
    visit(tree, "")
    return chosen


def sites(tree: ast.Module, functions: tuple[str, ...]) -> list[tuple[int, str]]:
    """Every mutation as (index of the node in ``ast.walk`` order, description)."""
    chosen = _inside(tree, functions)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in chosen:
            continue
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in SWAP_COMPARE:
                    found.append((index, f"line {line}: {type(op).__name__} -> {SWAP_COMPARE[type(op)].__name__} #{k}"))
        elif isinstance(node, ast.BoolOp):
            found.append((index, f"line {line}: {type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append((index, f"line {line}: not dropped"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            found.append((index, f"line {line}: {node.value} -> {not node.value}"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            found.append((index, f"line {line}: {node.value} -> {node.value + 1}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            found.append((index, f"line {line}: {type(node.op).__name__} -> {'Sub' if isinstance(node.op, ast.Add) else 'Add'}"))
        elif isinstance(node, (ast.If, ast.IfExp)):
            found.append((index, f"line {line}: condition -> True"))
            found.append((index, f"line {line}: condition -> False"))
    return found


def mutate(tree: ast.Module, index: int, description: str) -> str:
    """The module's source with the one mutation applied."""
    tree = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
    what = description.split(": ", 1)[1]
    if isinstance(node, ast.Compare):
        k = int(what.rsplit("#", 1)[1])
        node.ops[k] = SWAP_COMPARE[type(node.ops[k])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        node.op = ast.UAdd()  # +x: the value itself (a bool stays truthy or falsy as it was)
        node.operand = ast.Call(ast.Name("bool", ast.Load()), [node.operand], [])
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        node.value = not node.value
    elif isinstance(node, ast.Constant):
        node.value = node.value + 1
    elif isinstance(node, ast.BinOp):
        node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
    elif isinstance(node, (ast.If, ast.IfExp)):
        node.test = ast.Constant(what.endswith("True"))
    return ast.unparse(ast.fix_missing_locations(tree))


def run_tests(copy_root: Path, tests: tuple[str, ...], timeout: int) -> str:
    """'killed', 'survived' or 'timeout' (counted as killed, as mutmut does)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RATSCHLAG_TEST_POSTGRES_URL", "CI")}
    env["PYTHONPATH"] = str(copy_root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for test_file in tests:  # one file at a time, the quickest first: a killed mutant costs one small run
        try:
            result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", test_file],
                                    cwd=copy_root, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout"
        if result.returncode != 0:
            return "killed"
    return "survived"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="a target's name (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants without running them")
    parser.add_argument("--record", action="store_true", help="add the score to bench/RESULTS.md")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--retry", type=Path, help="run only the mutants a previous run's output lists as survived")
    args = parser.parse_args()
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    work = Path(tempfile.mkdtemp(prefix="ratschlag-mutation-"))
    for part in ("app", "tests", "docs", "bench", "pyproject.toml", "babel.cfg", "README.md", "Makefile"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, work / part)
    totals: dict[str, tuple[int, int]] = {}
    survivors: list[str] = []
    started = time.monotonic()
    try:
        for target in targets:
            original = (REPO / target.path).read_text(encoding="utf-8")
            tree = ast.parse(original)
            found = sites(tree, target.functions)
            if args.retry:
                again = {line.split(None, 2)[2] for line in args.retry.read_text(encoding="utf-8").splitlines()
                         if line.startswith(target.name + " ") and line.split()[1] == "survived"}
                found = [(i, d) for i, d in found if d in again]
            if args.list:
                print("\n".join(f"{target.name} {target.path} {d}" for _i, d in found))
                continue
            if run_tests(work, target.tests, args.timeout) != "survived":
                print(f"{target.name}: the tests fail on the unmutated code; fix that first", file=sys.stderr)
                return 2
            killed = 0
            for index, description in found:
                (work / target.path).write_text(mutate(tree, index, description), encoding="utf-8")
                outcome = run_tests(work, target.tests, args.timeout)
                killed += outcome != "survived"
                if outcome == "survived":
                    survivors.append(f"{target.path} {description}")
                print(f"{target.name:12} {outcome:8} {description}", flush=True)
            (work / target.path).write_text(original, encoding="utf-8")
            totals[target.name] = (killed, len(found))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.list:
        return 0
    killed, total = sum(k for k, _n in totals.values()), sum(n for _k, n in totals.values())
    lines = [f"| {name} | {k} / {n} | {100 * k / n:.0f} % |" for name, (k, n) in totals.items() if n]
    score = 100 * killed / total if total else 100.0
    summary = "\n".join(["| target | killed | score |", "| --- | --- | --- |", *lines,
                         f"| **all** | **{killed} / {total}** | **{score:.0f} %** |"])
    print("\n" + summary)
    print("\nsurvivors:\n" + ("\n".join(survivors) or "(none)"))
    print(f"\n{time.monotonic() - started:.0f} s")
    if args.record:
        with (REPO / "bench" / "RESULTS.md").open("a", encoding="utf-8") as results:
            results.write(f"\n## Mutation testing — {time.strftime('%Y-%m-%d')}\n\n`make mutation` "
                          f"(bench/mutation.py): each mutant runs only its target's test files on SQLite.\n\n"
                          f"{summary}\n\nSurvivors: {', '.join(survivors) or 'none'}.\n")
    return 0 if score >= 90 else 1


if __name__ == "__main__":
    sys.exit(main())
