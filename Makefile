# `make run`: set everything up and open the standalone app on the bundled sample.
# `make check`: lint and the core's tests (about a minute once set up): the quick loop while working.
# `make test`: set everything up (venvs, pinned packages, Debian chromium) and run lint + all tests, twice: under the
# AUTOMATIC1111 WebUI 1.10's pins (gradio 3.41, .venv) and under Forge's (gradio 4.40, .venv-forge).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the core again with the newest OpenEXR bindings, as the WebUI's install.py gets them
LATEST := .venv-latest
LATEST_STAMP := $(LATEST)/.installed
# everything again under Forge's gradio 4.40 and its pins
FORGE := .venv-forge
FORGE_STAMP := $(FORGE)/.installed
# the core: reading, mapping, bands, canvas sets, the job, the command line, the session layer (no browser, no server)
CORE_TESTS := tests/test_exr.py tests/test_damaged.py tests/test_damaged_corpus.py tests/test_cli.py \
	tests/test_cli_sets.py tests/test_mapping.py tests/test_properties.py tests/test_histogram.py tests/test_output.py \
	tests/test_bands.py tests/test_regions.py tests/test_recipe.py tests/test_canvas.py tests/test_canvas_maps.py \
	tests/test_normals.py tests/test_job.py tests/test_layers.py tests/test_session.py tests/test_session_bands.py \
	tests/test_session_sets.py tests/test_store.py
PORT ?= 7861
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup chromium check test test-latest test-forge lint run bench sample clean

setup: $(STAMP)

$(STAMP): requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $(STAMP)

$(LATEST_STAMP): requirements-latest.txt pyproject.toml
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade -r requirements-latest.txt
	touch $(LATEST_STAMP)

$(FORGE_STAMP): requirements-forge.txt pyproject.toml
	$(PYTHON) -m venv $(FORGE)
	$(FORGE)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-forge.txt
	touch $(FORGE_STAMP)

chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

check: lint
	$(PY) -m pytest -q $(CORE_TESTS)

test: setup chromium lint
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-latest
	$(MAKE) --no-print-directory test-forge

test-latest: $(LATEST_STAMP)
	@$(LATEST)/bin/python -c "import OpenEXR; print('core tests with OpenEXR', OpenEXR.__version__)"
	$(LATEST)/bin/python -m pytest -q $(CORE_TESTS)

test-forge: $(FORGE_STAMP) chromium
	@$(FORGE)/bin/python -c "import gradio; print('all tests again with gradio', gradio.__version__, '(Forge)')"
	$(FORGE)/bin/python -m pytest

run: setup
	$(PY) -m daz_depthmap.app --port $(PORT) samples/daz_figure_depth.exr

bench: setup
	$(PY) bench/bench_cli.py

sample: setup
	$(PY) -c "from tests.synthetic import daz_like_depth, two_subject_depth, write_depth_exr; \
		write_depth_exr('samples/daz_figure_depth.exr', daz_like_depth(800, 640)); \
		write_depth_exr('samples/two_figures_depth.exr', two_subject_depth(800, 640))"

clean:
	rm -rf $(VENV) $(LATEST) $(FORGE) .pytest_cache .ruff_cache test-artifacts
