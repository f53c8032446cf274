# `make run` and `make test` each build .venv from this project's own files, then run.
# .venv holds exactly the hash-checked pins of requirements/test.txt plus this project (editable); it is
# rebuilt only when pyproject.toml or the lock changes, so a second run starts at once.
# Dependencies change only through `make lock` (after editing pyproject.toml: keeps every other pin) or
# `make upgrade` (newest releases within pyproject's bounds); both rewrite requirements/*.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/test.txt
RUNTIME_LOCK := requirements/runtime.txt
# The lock tool (uv, pinned with hashes in requirements/lock-tool.txt) lives apart from .venv, so locking
# works while .venv is out of date. UV_OFFLINE=1 make lock re-locks from uv's cache without the network.
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
# One target: CPython 3.11 on x86_64 Linux (the Docker base, CI, the systemd host), wheels only.
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--only-binary :all: --emit-build-options --custom-compile-command 'make lock' --quiet
# pyproject's [build-system] requires (setuptools) are locked too: .venv and the image build this
# project without build isolation, so nothing unpinned is fetched to build it.
BUILD_REQUIRES = $(LOCK_VENV)/bin/python -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'

.PHONY: run test lint bench lock upgrade clean

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/minerwatch run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.economics
	$(BIN)/python -m benchmarks.alerts
	$(BIN)/python -m benchmarks.upstream_budget --hours 24 --chats 100
	$(BIN)/python -m benchmarks.startup

$(UV): requirements/lock-tool.txt
	$(PYTHON) -m venv --clear $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/lock-tool.txt
	touch $(UV)

# The test lock is resolved first; the runtime lock takes its pins as constraints, so the image runs
# the very versions the tests ran against.
lock: $(UV)
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - --extra test $(LOCK_FLAGS) $(UPGRADE) -o $(LOCK)
	$(BUILD_REQUIRES) | $(UV) pip compile pyproject.toml - -c $(LOCK) $(LOCK_FLAGS) -o $(RUNTIME_LOCK)

upgrade:
	$(MAKE) lock UPGRADE=--upgrade

clean:
	rm -rf $(VENV) $(LOCK_VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
