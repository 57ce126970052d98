# Two commands set everything up on a fresh machine (Python 3.11+ with pip and venv):
#   make demo   generate a health system, load it, train, score and serve the dashboard
#   make test   run the whole test suite (SQLite, PostgreSQL at 127.0.0.1:5432, headless Chromium)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck install bench clean screenshots

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/carepulse demo

# Style and imports first (seconds), then the types (about a minute), then the suite.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy reads modules by path: check the rooms laid out as one carepulse/ tree of links.
TYPECHECK := build/typecheck
typecheck: $(STAMP)
	$(PY) tools/typecheck_tree.py $(TYPECHECK)
	cd $(TYPECHECK) && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml -p carepulse

test: lint typecheck
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/validate.py
	$(PY) bench/metrics.py
	$(PY) bench/model.py
	$(PY) bench/dashboard.py

# Every page per role at 1440 and 390 px, from a small synthetic demo, into docs/screenshots/.
screenshots: $(STAMP)
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) data demo-data
