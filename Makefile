# `make run`: set everything up and open the standalone app on the bundled sample.
# `make test`: set everything up (venv, pinned packages, Debian chromium) and run lint + all tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 7861
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup chromium test lint run bench sample clean

setup: $(STAMP)

$(STAMP): requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $(STAMP)

chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: setup chromium lint
	$(PY) -m pytest

run: setup
	$(PY) -m daz_depthmap.app --port $(PORT) samples/daz_figure_depth.exr

bench: setup
	$(PY) bench/bench_cli.py

sample: setup
	$(PY) -c "from daz_depthmap.synthetic import daz_like_depth, write_depth_exr; \
		write_depth_exr('samples/daz_figure_depth.exr', daz_like_depth(800, 640))"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
