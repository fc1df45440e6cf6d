# Podium — `make demo` brings the site up; `make test` runs every check.
# The first interpreter that actually runs and is >= 3.12 (pyenv shims exist for inactive versions,
# so pyenv's own installs are tried too when pyenv is there). Override with PY312=/path/to/python.
PYENV_ROOT_DIR := $(shell command -v pyenv >/dev/null 2>&1 && pyenv root)
PY312 ?= $(shell for p in python3.12 python3.13 python3.14 $(if $(PYENV_ROOT_DIR),$(PYENV_ROOT_DIR)/versions/3.1[2-9]*/bin/python3) python3; do \
  $$p -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
# Training only (the local CPU torch wheel is cp311).
PY311 ?= $(shell for p in python3.11 $(if $(PYENV_ROOT_DIR),$(PYENV_ROOT_DIR)/versions/3.11*/bin/python3.11); do \
  $$p -c 'import sys; assert sys.version_info[:2] == (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest demo bench bench-grader bench-leaderboard bench-pipeline bench-load train-env keras-fixtures clean
PORT ?= 8000

$(STAMP): pyproject.toml
	@test -n "$(PY312)" || { echo "Python 3.12 or newer is needed (Django 6)"; exit 1; }
	test -x $(BIN)/python || $(PY312) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

# Fresh clone -> running site: migrate, import the bundled test sets, demo users, competitions and
# baselines (queued, then graded by the worker started below), then web + worker; Ctrl-C stops both.
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py rundemo 127.0.0.1:$(PORT)

bench-grader: install
	$(BIN)/python -m bench.grader

bench-leaderboard: install
	$(BIN)/python -m bench.leaderboard

bench-pipeline: install
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.push

bench-load: install
	$(BIN)/python -m bench.load $(BENCH_LOAD_ARGS)
	$(BIN)/python -m bench.rush

bench: bench-grader bench-leaderboard bench-pipeline bench-load

# Training environment (Python 3.11: the local CPU torch wheel is cp311). Optional.
train-env:
	test -x .venv-train/bin/python || $(PY311) -m venv .venv-train
	.venv-train/bin/pip install -q torch==2.13.0 onnxscript==0.7.2 onnx==1.23.2 onnxruntime-gpu==1.31.1 numpy==2.4.6 pillow==13.0.0 pytest==9.2.0 keras==3.15.1

# Keras fixtures for the .keras/.h5 converter (tests/grader/keras_fixtures), written by real Keras
# (keras 3, and tf-keras for the TF-Keras layouts, on tensorflow-cpu). Optional: the main
# environment never has TensorFlow or Keras; the generated files are committed.
keras-fixtures:
	test -x .venv-keras/bin/python || $(PY312) -m venv .venv-keras
	.venv-keras/bin/pip install -q --disable-pip-version-check tensorflow-cpu==2.21.0 tf-keras==2.21.0 keras==3.15.1 h5py==3.14.0
	rm -rf tests/grader/keras_fixtures
	KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 .venv-keras/bin/python -m reference.keras_fixtures

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
