# Everyday commands. Needs GNU make and python3 >= 3.11 (Debian 12 has both).
# System packages, not installed by make (.ci/run installs them on CI):
#   WeasyPrint (PDF) needs pango: libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
#   browser tests need Debian's chromium at /usr/bin/chromium (never `playwright install`)
#   hub tests use a PostgreSQL server; PDF checks use poppler-utils (pdftoppm)
#   accessibility tests use axe-core from the npm registry: needs npm (Node.js), `make axe`

VENV       := .venv
PYTHON     := $(VENV)/bin/python
FLASK      := $(VENV)/bin/flask
INSTALLED  := $(VENV)/.installed
CATALOGUES := $(wildcard translations/*/LC_MESSAGES/*.po)
# pip-audit lives in its own venv (inside .venv/, ignored by git and ruff), so its own
# dependencies are not mixed with the project's.
AUDIT_VENV := $(VENV)/pip-audit
AUDIT_TOOL := $(AUDIT_VENV)/bin/pip-audit

.PHONY: install demo test bench lint audit lock axe

# The project (editable) with its test and hub extras, then the compiled catalogues.
install: $(INSTALLED)
ifneq ($(CATALOGUES),)
	$(FLASK) translate compile
else
	@echo "No message catalogue yet: nothing to compile."
endif

$(PYTHON):
	python3 -m venv $(VENV)

# Reinstalled only when the dependencies change: the exact versions of requirements.lock, each
# checked against its SHA-256 (R54), then the project itself without resolving anything more.
$(INSTALLED): requirements.lock setup.cfg pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet --require-hashes -r requirements.lock
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $@

# After changing the dependencies in setup.cfg: pin them again, with their hashes
# (requirements-laptop.lock: the app alone, what the installation guide installs on a laptop).
# pip-tools lives in its own venv, like pip-audit.
lock:
	test -x $(VENV)/pip-tools/bin/pip-compile || \
	    (python3 -m venv $(VENV)/pip-tools && $(VENV)/pip-tools/bin/pip install --quiet pip-tools)
	$(VENV)/pip-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --no-emit-index-url --no-emit-find-links --extra test --extra hub \
	    --output-file requirements.lock setup.cfg
	$(VENV)/pip-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	    --no-emit-index-url --no-emit-find-links --output-file requirements-laptop.lock setup.cfg

# Demo on http://127.0.0.1:5000 with its own database (instance/demo.sqlite).
demo: install
	WORKSHOPS_DEMO=1 $(FLASK) db upgrade
	WORKSHOPS_DEMO=1 $(FLASK) seed demo
	WORKSHOPS_DEMO=1 $(FLASK) serve --port 5000

# The whole suite, browser tests included; pass options with ARGS='-k login'.
test: install axe
	$(PYTHON) -m pytest $(ARGS)

# axe-core for tests/browser/test_accessibility.py (pinned in its package-lock.json). Without npm
# the accessibility tests are skipped locally (CI installs npm and requires them).
AXE := tests/browser/axe/node_modules/axe-core/axe.min.js
axe:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(AXE); \
	else echo "npm not found: the accessibility tests will be skipped (apt install npm)."; fi

$(AXE): tests/browser/axe/package-lock.json
	npm ci --prefix tests/browser/axe --no-audit --no-fund
	touch $@

bench: install
	$(PYTHON) bench/run.py

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

# Known vulnerabilities in the exact versions installed in .venv (R54; docs/security-decisions.md).
audit: $(INSTALLED) $(AUDIT_TOOL)
	$(PYTHON) .ci/audit_deps.py --pip-audit $(AUDIT_TOOL)

$(AUDIT_TOOL): | $(PYTHON)
	python3 -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet pip-audit
