# The two commands of the README: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE ?= AlmaLinux-9-Azure-9.6-20250522.0.x86_64.raw

.PHONY: setup run test lint unit bench clean

setup: $(VENV)/.installed node_modules/.installed qemu-img

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
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

run: setup
	$(BIN)/gallery-publisher plan --offline $(SAMPLE)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy gallery_publisher local tests function_app.py $(wildcard bench/*.py)

test: setup lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) node_modules .local-stack
