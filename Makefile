# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Test workers: one per core (the reference machine has 2).
JOBS   ?= auto

.PHONY: install run test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install labeler with its development tools

run: $(STAMP)  ## migrate the SQLite database, load the demo project and accounts, start the app
	$(BIN)/labeler db upgrade
	$(BIN)/labeler demo
	$(BIN)/labeler serve

test: $(STAMP)  ## the whole suite, on SQLite and on a PostgreSQL server the run starts
	$(BIN)/pytest -n $(JOBS) -q

bench: $(STAMP)  ## every benchmark, default sizes (README: Benchmarks); writes bench/out/RESULTS.md
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache bench/out
