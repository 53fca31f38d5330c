# The two commands of the README: `make run` and `make test`. Each installs what it needs
# into .venv (a virtualenv under the repo) from the committed uv.lock.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint fmt migrate clean

$(VENV)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --extra dev --quiet
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/sales-agent up

# -n 2: this machine (and CI's) has 2 cores; each worker gets its own database.
test: install
	$(BIN)/pytest -n 2 --dist loadfile

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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
