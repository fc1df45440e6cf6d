"""docker/Dockerfile and Dockerfile.gpu: what they copy exists and is sent to the build, they pin
what pyproject.toml pins, the GPU base image matches the libraries onnxruntime-gpu needs, and the
environment they set up passes the production settings' `check --deploy`. Nothing is built."""

from __future__ import annotations

import fnmatch
import http.server
import os
import re
import subprocess
import sys
import threading
import tomllib

import pytest
from docker_helpers import (
    DOCKER,
    ENV_EXAMPLE,
    ROOT,
    dockerfile_instructions,
    dockerignore_patterns,
    load_compose,
    load_docker_script,
    read_env_file,
)

CPU = DOCKER / "Dockerfile"
GPU = DOCKER / "Dockerfile.gpu"
# What the running image needs from the build context.
NEEDED = [
    "pyproject.toml",
    "README.md",  # pyproject's readme: the editable install reads it
    "manage.py",
    "config/settings.py",
    "competitions/templates",
    "competitions/migrations",
    "grader/sandbox_child.py",
    "reference/manifest.json",
    "static/vendor",
    "data/mnist",
    "docker/healthcheck.py",
    "docker/requirements_from_pyproject.py",
]


def _instructions(path):
    return dockerfile_instructions(path)


def _ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also covers what is under it."""
    ignored = False
    for pat in patterns:
        negate = pat.startswith("!")
        pat = pat.lstrip("!").strip("/")
        parts = rel.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pat) for p in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_build_context_sends_what_the_image_needs(dockerfile):
    patterns = dockerignore_patterns(dockerfile.with_name(dockerfile.name + ".dockerignore"))
    for rel in NEEDED:
        assert (ROOT / rel).exists(), rel
        assert not _ignored(rel, patterns), f"{rel} is excluded from the build context"
    for rel in (".venv", ".git", "var/podium.sqlite3", "docker/.env", "reference/checkpoints/x"):
        assert _ignored(rel, patterns), f"{rel} would be sent to the build"
    for word, args in _instructions(dockerfile):
        if word == "COPY":
            *sources, _dest = args.split()
            for src in (s for s in sources if not s.startswith("--")):
                assert src == "." or (ROOT / src).exists(), f"COPY {src}: not in the repository"


def test_dockerignore_files_agree():
    assert (DOCKER / "Dockerfile.dockerignore").read_text() == (
        DOCKER / "Dockerfile.gpu.dockerignore"
    ).read_text()


def test_requirements_are_exactly_the_pins_in_pyproject():
    script = load_docker_script("requirements_from_pyproject")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = script.requirements(ROOT / "pyproject.toml", ["s3"])
    assert reqs == project["dependencies"] + project["optional-dependencies"]["s3"]
    assert all("==" in r for r in reqs), "every runtime dependency is pinned"
    assert any(r.startswith("onnxruntime-gpu==") for r in reqs)
    for dockerfile in (CPU, GPU):
        text = dockerfile.read_text()
        assert "requirements_from_pyproject.py /tmp/build/pyproject.toml --extra s3" in text
        assert "pip install --no-deps --editable ." in text


@pytest.mark.parametrize("dockerfile", [CPU, GPU], ids=["cpu", "gpu"])
def test_images_run_as_a_non_root_user_with_production_settings(dockerfile):
    instructions = _instructions(dockerfile)
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(args for word, args in instructions if word == "ENV")
    assert "DJANGO_SETTINGS_MODULE=config.production" in env
    assert "PODIUM_VAR_DIR=/var/lib/podium" in env
    # The private volume is mounted where the image puts PODIUM_PRIVATE_ROOT.
    assert "PODIUM_PRIVATE_ROOT=/var/lib/podium/private" in env
    compose = load_compose()
    assert "private:/var/lib/podium/private" in compose["services"]["web"]["volumes"]


def test_cpu_image_base_static_files_and_web_command():
    instructions = _instructions(CPU)
    args = [a for w, a in instructions if w == "ARG"]
    assert "PYTHON_IMAGE=python:3.12-slim" in args
    run = " ".join(a for w, a in instructions if w == "RUN")
    assert "manage.py collectstatic --noinput" in run
    env = " ".join(a for w, a in instructions if w == "ENV")
    assert "STATIC_ROOT=/app/staticfiles" in env  # the same at build time and at run time
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in (ROOT / "config/settings.py").read_text()
    cmd = [a for w, a in instructions if w == "CMD"][-1]
    assert '"gunicorn", "config.wsgi:application"' in cmd


def test_static_files_with_dangling_source_maps_are_handled():
    """The manifest storage fails collectstatic on a sourceMappingURL to a missing file; the
    Dockerfile strips those comments from static/vendor/*.js only."""
    assert "sed -i '/^\\/\\/# sourceMappingURL=/d' static/vendor/*.js" in CPU.read_text()
    for path in (ROOT / "static").rglob("*"):
        if path.suffix not in (".js", ".css"):
            continue
        for ref in re.findall(r"sourceMappingURL=(\S+?)(?:\s|\*/|$)", path.read_text()):
            stripped = path.parent.name == "vendor" and path.suffix == ".js"
            assert stripped or (path.parent / ref).exists(), f"{path}: {ref} missing"


def test_gpu_image_matches_the_cuda_libraries_onnxruntime_needs():
    from grader.providers import CUDA_LIBS

    instructions = _instructions(GPU)
    base = [a for w, a in instructions if w == "ARG" and a.startswith("CUDA_IMAGE=")][0]
    m = re.fullmatch(r"CUDA_IMAGE=nvidia/cuda:(\d+)\.(\d+)\.(\d+)-cudnn-runtime-ubuntu24\.04", base)
    assert m, base
    cudart = [lib for lib in CUDA_LIBS if lib.startswith("libcudart.so.")][0]
    assert cudart.rsplit(".", 1)[1] == m.group(1), "CUDA major version differs from the grader's"
    assert "libcudnn.so.9" in CUDA_LIBS  # CUDA 13 images carry cuDNN 9
    run = " ".join(a for w, a in instructions if w == "RUN")
    assert "python3.12" in run  # Ubuntu 24.04's Python, the version the project targets
    assert (
        "libonnxruntime_providers_cuda.so" in run
        and "from grader.providers import CUDA_LIBS" in run
    )
    cmd = [a for w, a in instructions if w == "CMD"][-1]
    assert '"-Q", "gpu"' in cmd and '"-A", "config"' in cmd


# --- docker/healthcheck.py -------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen = dict(self.headers)
        self.send_response(self.status)
        self.send_header("Location", "https://elsewhere.invalid/")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(("status", "rc"), [(200, 0), (301, 0), (302, 0), (500, 1), (503, 1)])
def test_web_healthcheck(monkeypatch, status, rc):
    handler = type("H", (_Handler,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("PORT", str(server.server_address[1]))
        monkeypatch.setenv("ALLOWED_HOSTS", "*, .podium.example.org,other.example.org")
        assert load_docker_script("healthcheck").main(["web"]) == rc
        assert handler.seen["Host"] == "podium.example.org"
        assert handler.seen["X-Forwarded-Proto"] == "https"
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_failures(monkeypatch):
    hc = load_docker_script("healthcheck")
    assert hc.main([]) == 2 and hc.main(["nope"]) == 2
    monkeypatch.setenv("CELERY_BROKER_URL", "filesystem://")
    assert hc.main(["broker"]) == 1
    monkeypatch.setenv("PORT", "1")  # nothing listens there
    assert hc.main(["web"]) == 1


# --- The containers' environment passes the production settings -------------------------------


@pytest.mark.slow
def test_compose_environment_passes_check_deploy(tmp_path):
    """config.production with exactly what compose gives the web container (.env.example as
    docker/.env, then the service's environment), less paths that only exist in the image."""
    compose = load_compose()
    example = read_env_file(ENV_EXAMPLE)
    service_env = {
        k: v.replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in docker/.env}", "pw")
        for k, v in compose["services"]["web"]["environment"].items()
    }
    settings_names = set(
        re.findall(r"\"([A-Z][A-Z0-9_]+)\"", (ROOT / "config/settings.py").read_text())
    )
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in settings_names and not k.startswith(("DJANGO_", "PODIUM_", "CELERY_"))
    }
    env = (
        base
        | example
        | service_env
        | {
            "SECRET_KEY": "a-production-like-secret-key-" + "x" * 40,
            "PODIUM_VAR_DIR": str(tmp_path / "var"),
            "PODIUM_PRIVATE_ROOT": str(tmp_path / "private"),
            "STATIC_ROOT": str(tmp_path / "static"),
        }
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
