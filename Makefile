# The two commands of the README: `make demo` (the main job) and `make test`.
# Each sets up a fresh machine first (scripts/setup.sh is quick when already done).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint cleanup

setup:
	VENV=$(VENV) scripts/setup.sh

demo:
	MCP_SCALE_TEST_TOOLS=0 MCP_SCALE_SKIP_CONFORMANCE=1 VENV=$(VENV) scripts/setup.sh
	$(BIN)/mcp-scale demo

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy reference_server harness scenarios bench

test: setup lint
	$(BIN)/pytest -q -m "not slow"

cleanup:
	$(BIN)/mcp-scale cleanup
