"""Reading docker/: compose.yaml with Compose's ${...} substitution, .env files, Dockerfiles."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
SCHEMA = Path(__file__).resolve().parent / "compose-spec.json"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}; $$ is $.
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_]\w*)")


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<: *anchor) are resolved here


def read_env_file(path: Path, *, commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines; with commented=True also `# KEY=VALUE` lines (documented, optional)."""
    out: dict[str, str] = {}
    pattern = r"#\s*([A-Z][A-Z0-9_]*)=(.*)" if commented else r"([A-Z][A-Z0-9_]*)=(.*)"
    for line in path.read_text().splitlines():
        m = re.fullmatch(pattern, line.strip())
        if m:
            out[m.group(1)] = m.group(2).split("   #")[0].strip()
    return out


def compose_variables(text: str) -> dict[str, str | None]:
    """Variables substituted in a compose file: name -> modifier ('' for none, ':?' ...)."""
    found: dict[str, str | None] = {}
    for m in _VAR.finditer(text):
        name = m.group(1) or m.group(4)
        if name:
            found.setdefault(name, m.group(2) or "")
            if m.group(2) in (":?", "?"):
                found[name] = m.group(2)
    return found


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's substitution, applied to every string in a loaded compose file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1) or m.group(4), m.group(2), m.group(3) or ""
        val = env.get(name)
        if op in (":?", "?"):
            if val is None or (op == ":?" and val == ""):
                raise KeyError(f"{name}: {arg}")
            return val
        if op == ":-":
            return val if val else arg
        if op == "-":
            return val if val is not None else arg
        if op == ":+":
            return arg if val else ""
        return val or ""

    return _VAR.sub(sub, value)


def command_args(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def option(args: list[str], *names: str) -> str | None:
    """Value of --name=value / --name value / -n value in an argument list."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def dockerignore_patterns(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def load_docker_script(name: str) -> ModuleType:
    """Import docker/<name>.py (docker/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"podium_docker_{name}", DOCKER / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
