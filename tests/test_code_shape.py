"""Shape limits ruff cannot hold without preview rules: positional parameters and `# fmt: skip`.

Positional piles were where call sites went wrong (`_write_result` took 8 positional values); past
five, a function takes its parameters by keyword. Tests are exempt: pytest passes fixtures by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "bench",
    "competitions",
    "config",
    "grader",
    "podium_client",
    "reference",
    "testsupport",
)
MAX_POSITIONAL = 5
MAX_FMT_SKIP = 10


def project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def positional_piles(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            if params[:1] in (["self"], ["cls"]):
                params = params[1:]
            if len(params) > MAX_POSITIONAL:
                found.append(f"{name}:{node.lineno} {node.name}({', '.join(params)})")
    return found


def test_no_function_takes_more_than_five_positional_parameters() -> None:
    piles = [
        pile
        for path in project_files()
        for pile in positional_piles(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert piles == [], "make these keyword-only:\n" + "\n".join(piles)


def test_the_check_finds_a_positional_pile() -> None:
    src = "class A:\n    def f(self, a, b, c, d, e, g, *, h): ...\n    def ok(self, a, b, c, d, e): ...\n"
    assert positional_piles(src, "m.py") == ["m.py:2 f(a, b, c, d, e, g)"]


def test_at_most_ten_fmt_skip_markers() -> None:
    marker = "# fmt" + ": skip"  # split so this file does not count itself
    files = project_files() + sorted((ROOT / "tests").rglob("*.py"))
    count = sum(p.read_text().count(marker) for p in files)
    assert count <= MAX_FMT_SKIP, count
