"""Print the pinned requirements from pyproject.toml, one per line, for `pip install -r`.

The images install the dependencies in a layer of their own (rebuilt only when pyproject.toml
changes), before the source is copied; pyproject.toml stays the only place versions are pinned.

    python docker/requirements_from_pyproject.py [pyproject.toml] [--extra s3 ...]
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return reqs


def main(argv: list[str]) -> None:
    extras: list[str] = []
    paths: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--extra":
            extras.append(next(args))
        else:
            paths.append(arg)
    path = Path(paths[0] if paths else "pyproject.toml")
    print("\n".join(requirements(path, extras)))


if __name__ == "__main__":
    main(sys.argv[1:])
