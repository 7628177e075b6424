# Ratschlag: `make run` serves the demo on http://127.0.0.1:5000 (with the mail worker), `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint e2e bench bench-paint bench-inputs bench-peer mutation load translations install install-dev install-e2e clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-e2e: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,e2e]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-e2e: $(VENV)/.installed-e2e

run: install
	@ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0.so.0 || echo "note: without Pango (apt-get install libpango-1.0-0 libpangoft2-1.0-0) the minutes and dossiers are not served as PDF; everything else works"
	$(BIN)/ratschlag db upgrade
	$(BIN)/ratschlag demo --if-empty
	@# The mail worker runs beside the server and stops with it. Without RATSCHLAG_SMTP_URL it
	@# sends nothing and writes each mail into instance/mail/ instead (docs/notifications.md).
	$(BIN)/ratschlag worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/ratschlag run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Lint, format check and type check of app/ (configured in pyproject.toml); CI runs it.
lint: install-dev
	$(BIN)/ruff check app
	$(BIN)/ruff format --check app
	$(BIN)/mypy

# After changing UI strings: extract them, update the German catalogue (then translate what is new), compile.
translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d app/translations

# Browser tests: Playwright with the system's Chromium (Debian: apt-get install chromium).
e2e: install-e2e
	RATSCHLAG_E2E=1 $(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# Benchmarks: every scenario on both databases; figures go to bench/RESULTS.md and bench/results/.
bench: install-dev
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

# The same, with OpenSlides 3.3 (../shared/peers/openslides) measured beside it in the same run.
bench-peer: install-dev
	$(BIN)/python bench/bench.py --peer $(BENCH_ARGS)

# The largest contentful paint in Chromium of the front page and two long pages (issue 18); the table goes to bench/RESULTS.md.
bench-paint: install-e2e
	$(BIN)/python bench/paint.py $(BENCH_ARGS)

# Pathological inputs at the field limits against a typical one (issue 12); the table goes to bench/RESULTS.md.
bench-inputs: install-dev
	$(BIN)/python bench/inputs.py $(BENCH_ARGS)

# Mutation testing of permissions, the transition service and the audit hash (issue 12); --record adds the
# score to bench/RESULTS.md. Each mutant runs only its target's test files; the whole run takes a while.
mutation: install-dev
	$(BIN)/python bench/mutation.py $(MUTATION_ARGS)

load: install-dev
	$(BIN)/python bench/load.py $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
