# TensorLogic tools. `make run` and `make test` work on a fresh machine: each creates .venv
# and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-quick lint install clean vsix bench system-deps

$(STAMP): pyproject.toml
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

# Debian packages for the real-editor tests (Neovim, Chromium, ...): apt-get as root or
# through sudo, only what is missing (a no-op when all are there).
system-deps:
	scripts/system-deps.sh

# All tests, real editors included. pytest's exit status 5 ("no tests ran") fails too.
test: $(STAMP) lint system-deps
	$(PY) -m pytest -q -p no:cacheprovider tests

# A fast inner loop without the real-editor tests.
test-quick: $(STAMP) lint
	$(PY) -m pytest -q -p no:cacheprovider -m "not e2e and not slow" tests

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The VS Code extension: npm ci (into vscode-extension/node_modules), esbuild, vsce.
vsix:
	cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run package

clean:
	rm -rf $(VENV) .cache build *.egg-info
