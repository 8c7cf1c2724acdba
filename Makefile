# carpass-streams: the two commands of the README are `make demo` and `make test`.
# Both create the virtual environment and install what they need; both are idempotent.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-full lint typecheck install broker-down bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

## The main job: the demo on the local embedded broker.
demo: $(STAMP)
	$(BIN)/carpass demo

## Lint, type-check and the whole test suite (slow scale tests in quick mode), against a real broker.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	CARPASS_QUICK=$${CARPASS_QUICK:-1} $(BIN)/python -m pytest

## The same with the slow scale tests at full size.
test-full: $(STAMP)
	CARPASS_QUICK=0 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

broker-down: $(STAMP)
	$(BIN)/carpass kafka down

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
