"""The project's own modules import each other without a cycle, counting imports inside functions,
and the sandbox child (which runs untrusted models) loads neither onnx nor the engine."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "config",
    "competitions",
    "grader",
    "reference",
    "bench",
    "podium_client",
    "testsupport",
)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for pkg in PACKAGES:
        for base in (ROOT, ROOT / "client"):
            top = base / pkg
            for path in top.rglob("*.py") if top.is_dir() else ():
                parts = list(path.relative_to(base).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that `name` imports anywhere in its body (module or function level)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import name`: the package, and the submodule when `name` is one
            targets = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        for t in targets:
            # `import a.b.c` runs a, a.b and a.b.c
            parts = t.split(".")
            for i in range(1, len(parts) + 1):
                cand = ".".join(parts[:i])
                if cand in modules and cand != name:
                    out.add(cand)
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def _package_edges_ignored(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ importing its own submodules, and a submodule importing its package
    # (needed by Python to import it at all), is not a design cycle: drop child -> ancestor edges.
    return {n: {m for m in deps if not n.startswith(m + ".")} for n, deps in graph.items()}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    return _package_edges_ignored(graph)


def test_project_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 80  # the walk found the project
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    # The shape of the cycle this test was written against: a -> b at module level, b -> a in a function.
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from a import x\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    graph = {n: _imports(n, p, modules) for n, p in modules.items()}
    assert _cycle(graph) == ["a", "b", "a"]


def test_the_sandbox_child_loads_neither_onnx_nor_the_engine() -> None:
    code = (
        "import sys, grader.sandbox_child\n"
        "bad = [m for m in ('onnx', 'grader.engine', 'grader.validate', 'grader.efficiency',"
        " 'grader.npnet', 'django', 'celery') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_the_web_process_never_loads_h5py_or_the_keras_reader() -> None:
    """Keras files are parsed in the analysis child only (native HDF5 code on untrusted bytes)."""
    code = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings_test')\n"
        "django.setup()\n"
        "import config.urls, competitions.forms, competitions.services.submissions\n"
        "bad = [m for m in ('h5py', 'grader.keras', 'onnxruntime') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
