# The two commands of the README: `make run` and `make test`. Each installs what it needs
# into .venv (a virtualenv under the repo) from requirements.lock: every package pinned
# with its hashes, exported from uv's resolution (`make lock` redoes both).
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test chaos lint fmt migrate lock clean

# --compile-bytecode: every process of the stack (and each test's) imports Dagster, the SDKs
# and our code; where PYTHONDONTWRITEBYTECODE is set (this machine's and CI's environment)
# Python never writes the .pyc it compiles, so each process compiled ~3 s of sources again
# (the run worker's forkserver, the code server, the webserver, the daemon, the API, every
# `sales-agent` command). Compiled once here, at install.
$(VENV)/.installed: pyproject.toml requirements.lock Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes --compile-bytecode \
		-r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/sales-agent up

# -n 2: this machine (and CI's) has 2 cores; each worker gets its own database.
test: install
	$(BIN)/pytest -n 2 --dist loadfile

# The fault-injection suite alone (part of `make test` too): one stack, 9.5 minutes idle.
chaos: install
	$(BIN)/pytest -m chaos tests/chaos

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sales_agent_pipeline sales_agent_api sales_agent_sandbox tests bench
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install
	$(BIN)/sales-agent db upgrade

# After changing dependencies in pyproject.toml: resolve again and re-export the pins: all
# of them (requirements.lock, what `make install` installs) and the runtime's alone
# (requirements-runtime.lock, what deploy/Dockerfile installs: no dev tools in the image).
lock: install
	$(UV) lock
	$(UV) export --frozen --no-emit-project --extra dev --format requirements-txt \
		--no-header --quiet -o requirements.lock
	grep -E '^[A-Za-z0-9_.-]+==' requirements.lock | sed 's/ \\$$//' > $(VENV)/pins.txt
	$(UV) pip compile pyproject.toml --universal --generate-hashes --no-header --quiet \
		-c $(VENV)/pins.txt -o requirements-runtime.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
