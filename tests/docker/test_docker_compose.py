"""docker/compose.yaml: valid against the Compose Specification schema, and every name in it
(images, Dockerfiles, Celery app and queues, commands, settings variables) refers to something
that exists. No Docker engine is needed: nothing is built or started."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
from docker_helpers import (
    COMPOSE,
    DOCKER,
    ENV_EXAMPLE,
    ROOT,
    SCHEMA,
    command_args,
    compose_variables,
    interpolate,
    load_compose,
    load_docker_script,
    option,
    read_env_file,
)

SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
PODIUM_SERVICES = {"migrate", "web", "stream", "worker-cpu", "worker-gpu", "beat"}
WORKERS = {"worker-cpu": "cpu", "worker-gpu": "gpu"}

# Variables that config/settings.py does not read, and who does.
EXTERNAL_VARIABLES = {
    "DJANGO_SETTINGS_MODULE": "Django (config.production)",
    "WEB_CONCURRENCY": "gunicorn (number of worker processes)",
    "PORT": "docker/healthcheck.py (the port the web check asks)",
    "AWS_ACCESS_KEY_ID": "boto3 (django-storages' S3 client)",
    "AWS_SECRET_ACCESS_KEY": "boto3",
    "AWS_DEFAULT_REGION": "boto3",
    "AWS_ENDPOINT_URL_S3": "botocore (S3-compatible endpoint)",
    "POSTGRES_PASSWORD": "the postgres image; compose.yaml builds DATABASE_URL from it",
}


def settings_variables() -> set[str]:
    """Every environment variable config/ reads (env_str/env_bool/env_int/env_list, os.environ)."""
    names: set[str] = set()
    for path in (ROOT / "config").glob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"env_(?:str|bool|int|list)\(\s*\"([A-Z][A-Z0-9_]*)\"", text))
        names |= set(re.findall(r"os\.environ(?:\.get)?[\[(]\s*\"([A-Z][A-Z0-9_]*)\"", text))
    return names


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def resolved(compose, example_env) -> dict:
    """compose.yaml as `docker compose config` would see it with .env.example as docker/.env."""
    return interpolate(compose, example_env)


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# --- The Compose Specification schema --------------------------------------------------------


def test_schema_file_is_the_vendored_one():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (SCHEMA.parent / "LICENSE.compose-spec").read_text().count("Apache License") >= 1


def test_compose_file_is_valid_against_the_compose_spec(compose, resolved, validator):
    for doc in (compose, resolved):  # as written, and after ${...} substitution
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["services"]["web"].update(comand=["x"]),  # misspelt key
        lambda c: c["services"]["web"].update(ports="8000:8000"),  # a list is required
        lambda c: c["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"][
            0
        ].pop("capabilities"),
        lambda c: c["services"]["web"]["depends_on"]["migrate"].update(condition="finished"),
    ],
    ids=["unknown-key", "ports-not-a-list", "device-without-capabilities", "bad-condition"],
)
def test_the_schema_catches_mistakes(resolved, validator, mutate):
    broken = json.loads(json.dumps(resolved))
    mutate(broken)
    assert list(validator.iter_errors(broken))


# --- Services, images, Dockerfiles -----------------------------------------------------------


def test_services_and_their_dependencies(resolved):
    services = resolved["services"]
    assert {"postgres", "redis", *PODIUM_SERVICES} == set(services)
    declared_volumes = set(resolved.get("volumes") or {})
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), name
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec["condition"] != "service_healthy" or "healthcheck" in services[dep]
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0] if isinstance(vol, str) else vol["source"]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} not declared"
        if name != "migrate":
            assert "healthcheck" in svc, f"{name} has no healthcheck"
    # Everything that uses the database waits for migrate to have finished.
    for name in PODIUM_SERVICES - {"migrate"}:
        cond = services[name]["depends_on"]["migrate"]["condition"]
        assert cond == "service_completed_successfully", name
    assert services["migrate"]["restart"] == "no"
    assert command_args(services["migrate"]["command"])[-2:] == ["migrate", "--noinput"]
    # Web and the workers share the private uploads volume (PODIUM_STORAGE=local).
    private = {
        name
        for name in PODIUM_SERVICES
        if any(str(v).startswith("private:") for v in services[name].get("volumes", []))
    }
    assert {"web", "worker-cpu", "worker-gpu"} <= private
    assert any(str(v).startswith("pgdata:") for v in services["postgres"]["volumes"])


def test_build_contexts_and_dockerfiles_exist(resolved):
    for name, svc in resolved["services"].items():
        build = svc.get("build")
        if not build:
            continue
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT, f"{name}: build context should be the repository root"
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
        assert ignore.is_file(), f"{name}: {ignore.name} missing (the context has .venv, var/...)"
    assert resolved["services"]["worker-gpu"]["build"]["dockerfile"] == "docker/Dockerfile.gpu"
    for name in PODIUM_SERVICES - {"worker-gpu"}:
        assert resolved["services"][name]["build"]["dockerfile"] == "docker/Dockerfile"


def test_gpu_worker_reserves_a_gpu_and_is_behind_a_profile(resolved):
    gpu = resolved["services"]["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] for d in devices)
    assert gpu["profiles"] == ["gpu"]  # `--profile gpu`: machines without a GPU still come up


# --- Commands refer to things that exist -----------------------------------------------------


def test_celery_app_and_queues_exist(resolved):
    from celery import Celery
    from django.conf import settings

    from competitions.models import Competition

    queues_in_code = {q.value for q in Competition.Queue}
    assert queues_in_code == {"cpu", "gpu"}
    beat_queues = {e["options"]["queue"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    consumed: set[str] = set()
    for name in ("worker-cpu", "worker-gpu", "beat"):
        args = command_args(resolved["services"][name]["command"])
        assert args[0] == "celery", name
        app = option(args, "--app", "-A")
        assert app == "config", name
        module = importlib.import_module(app)  # `celery -A config` finds config.celery_app
        assert isinstance(module.celery_app, Celery)
        if name in WORKERS:
            assert "worker" in args
            queues = set(option(args, "--queues", "-Q").split(","))
            assert queues <= queues_in_code, f"{name}: unknown queue(s) {queues - queues_in_code}"
            assert queues == {WORKERS[name]}
            consumed |= queues
            assert option(args, "--hostname", "-n") == f"{WORKERS[name]}@%h"
            assert int(option(args, "--concurrency", "-c")) >= 1
        else:
            assert "beat" in args
            schedule = option(args, "--schedule", "-s")
            assert schedule and schedule.startswith("/tmp/"), "beat needs a writable schedule file"
    # Every queue something is sent to has a consumer.
    assert queues_in_code | beat_queues | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed


def test_worker_healthchecks_ping_their_own_node(resolved):
    for name, queue in WORKERS.items():
        test = resolved["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        # $$HOSTNAME in compose.yaml is $HOSTNAME for the shell, which is what %h expands to.
        assert f"--destination={queue}@$HOSTNAME" in test[1]
        assert "--app=config inspect ping" in test[1]


def test_web_command_and_healthcheck(resolved):
    checks = load_docker_script("healthcheck").CHECKS
    web = resolved["services"]["web"]
    args = command_args(web["command"])
    assert args[0] == "gunicorn"
    module, _, attr = args[1].partition(":")
    spec = importlib.util.find_spec(module)
    assert spec and spec.origin
    assert re.search(rf"^{attr} = ", Path(spec.origin).read_text(), re.M)
    assert option(args, "--bind") == "0.0.0.0:8000"
    assert any(p.endswith(":8000") for p in web["ports"])
    for name in ("web", "beat"):
        test = resolved["services"][name]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python"]
        assert test[2].startswith("/app/docker/")
        assert (DOCKER / Path(test[2]).name).is_file()
        assert test[3] in checks


def test_backing_services_healthchecks(resolved):
    pg = resolved["services"]["postgres"]
    assert pg["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert resolved["services"]["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "noeviction" in resolved["services"]["redis"]["command"]  # a broker must not evict


# --- Environment variables -------------------------------------------------------------------


def test_every_variable_is_read_by_settings_or_a_known_consumer(compose, example_env):
    known = settings_variables()
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"} <= known
    compose_text = COMPOSE.read_text()
    substituted = compose_variables(compose_text)
    optional = read_env_file(ENV_EXAMPLE, commented=True)
    container_env: set[str] = set()
    for name in PODIUM_SERVICES:
        container_env |= set(compose["services"][name]["environment"])
    for var in container_env | set(example_env) | set(optional):
        assert var in known or var in EXTERNAL_VARIABLES or var in substituted, (
            f"{var} is read by nothing: not by config/settings.py, not by compose.yaml, "
            f"not by {sorted(EXTERNAL_VARIABLES)}"
        )
    # Variables compose.yaml substitutes are all documented in .env.example.
    for var in substituted:
        assert var in example_env or var in optional, f"${{{var}}} is not in .env.example"


def test_required_settings_are_provided(compose, example_env):
    env = compose["services"]["web"]["environment"]
    assert env["DJANGO_SETTINGS_MODULE"] == "config.production"
    assert importlib.util.find_spec(env["DJANGO_SETTINGS_MODULE"]) is not None
    assert env["DATABASE_URL"].startswith("postgres://podium:")
    assert "@postgres:5432/podium" in env["DATABASE_URL"]
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    for var in ("SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "POSTGRES_PASSWORD"):
        assert example_env.get(var), f"{var} missing from .env.example"
    # Every ${VAR:?...} that stops compose when unset is set in the example.
    for var, op in compose_variables(COMPOSE.read_text()).items():
        if op in (":?", "?"):
            assert example_env.get(var), var
    # The storage choice uses the values settings accepts.
    assert example_env["PODIUM_STORAGE"] in ("local", "s3")
    settings_text = (ROOT / "config" / "settings.py").read_text()
    assert '"AWS_STORAGE_BUCKET_NAME"' in settings_text
    assert "AWS_STORAGE_BUCKET_NAME" in read_env_file(ENV_EXAMPLE, commented=True)


# --- docker/compose.worker.yaml (workers on other machines) ----------------------------------


def test_worker_only_compose_file(validator, example_env):
    import yaml

    path = DOCKER / "compose.worker.yaml"
    raw = yaml.safe_load(path.read_text())
    example = example_env | {"DATABASE_URL": "postgres://u:p@db.internal/podium"}
    for doc in (raw, interpolate(raw, example)):
        errors = list(validator.iter_errors(doc))
        assert not errors, [e.message for e in errors]
    main = load_compose()["services"]
    for name in WORKERS:
        svc = raw["services"][name]
        assert command_args(svc["command"]) == command_args(main[name]["command"]), name
        assert svc["healthcheck"]["test"] == main[name]["healthcheck"]["test"]
        assert svc["image"] == main[name]["image"]
        # The central database and broker come from docker/.env, not from compose's defaults.
        assert "DATABASE_URL" not in svc["environment"]
        assert "CELERY_BROKER_URL" not in svc["environment"]
        assert "build" not in svc and "depends_on" not in svc
    for var in compose_variables(path.read_text()):
        assert var in example_env, f"${{{var}}} is not in .env.example"


def test_stream_service_serves_the_asgi_app_and_checks_its_own_port(resolved):
    stream = resolved["services"]["stream"]
    args = command_args(stream["command"])
    assert args[:2] == ["hypercorn", "config.asgi:application"]
    assert option(args, "--bind") == "0.0.0.0:8001"
    assert stream["environment"]["PORT"] == "8001"  # docker/healthcheck.py asks this port
    assert stream["healthcheck"]["test"][2:] == ["/app/docker/healthcheck.py", "web"]
    assert importlib.util.find_spec("hypercorn") is not None  # a pinned dependency
