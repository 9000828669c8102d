# The two commands of the README: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint unit bench mutation clean

setup: $(VENV)/.installed node_modules/.installed qemu-img chromium

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-worker.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python -r requirements-worker.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# qemu-img checks our VHDs against the reference converter; installed from Debian when missing.
.PHONY: qemu-img
qemu-img:
	@command -v qemu-img >/dev/null || { \
	  echo "installing qemu-utils (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-utils >/dev/null; }

# Chromium runs the job page's browser test (headless, driven by Playwright without its own browser
# download); installed from Debian when missing.
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# ONCE=1 exits after the job with its status; otherwise the stack stays up until Ctrl-C.
run: setup
	$(BIN)/python -m local.run_demo $(if $(ONCE),--once)

# mypy also for the container's Python (Dockerfile: 4-python3.12). The workflows are checked with
# zizmor (from PyPI); actionlint's PyPI package downloads its binary from GitHub when it is built,
# so it is not used here.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy gallery_publisher activities orchestrators job_page local tests bench tools function_app.py
	$(BIN)/mypy --python-version 3.12 gallery_publisher activities orchestrators function_app.py
	$(BIN)/zizmor --offline --quiet .github/workflows/
	$(BIN)/lint-imports --no-cache

test: setup lint
	$(BIN)/python -m pytest -q

# The fast half alone: the pure core's tests, nothing started (about 15 s).
unit: $(VENV)/.installed
	$(BIN)/python -m pytest -q tests/unit

# The benchmarks: parallel versions, and staging against the MD5 floor and the old pipeline (issue 12).
BENCH_ARGS ?=

# Azurite 3.36.0 beside the stack's 3.37.0: see "Storage" in bench/stage_vs_old_pipeline.py.
BENCH_AZURITE := bench/azurite-3.36

$(BENCH_AZURITE)/node_modules/.installed: $(BENCH_AZURITE)/package.json $(BENCH_AZURITE)/package-lock.json
	npm ci --prefix $(BENCH_AZURITE) --no-audit --no-fund --loglevel=error
	touch $@

bench: setup $(BENCH_AZURITE)/node_modules/.installed
	$(BIN)/python -m bench.parallel_versions
	$(BIN)/python -m bench.stage_vs_old_pipeline $(BENCH_ARGS)

# How many small deliberate bugs in the pure core the fast tests catch, per module (tools/mutation.py).
mutation: $(VENV)/.installed
	$(BIN)/python -m tools.mutation --fail-under 90 $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) node_modules .local-stack
