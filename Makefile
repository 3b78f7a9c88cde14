# The two commands of the README: `make demo` (the main job) and `make test`.
# Each sets up a fresh machine first (scripts/setup.sh is quick when already done).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint cleanup docker-engine base-images compose-smoke compose-profile compose-defect compose-partition compose-all

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

# Containers (README, "In containers"). An engine first: `make docker-engine` (root) installs
# docker.io and starts dockerd when none answers. Each target builds the image (cached), runs
# its part in a fresh compose project and removes it; results in reports/compose-smoke-<time>.
docker-engine:
	scripts/docker_engine.sh start

base-images:
	scripts/build_base_images.sh

compose-smoke:
	VENV=$(VENV) scripts/compose_smoke.sh run

compose-profile:
	VENV=$(VENV) scripts/compose_smoke.sh profile

compose-defect:
	VENV=$(VENV) scripts/compose_smoke.sh defect

compose-partition:
	VENV=$(VENV) scripts/compose_smoke.sh partition

compose-all:
	VENV=$(VENV) scripts/compose_smoke.sh all
