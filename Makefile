# kv-memory-book: `make book` builds the HTML book, `make test` runs every test.
# Both create the virtual environment (.venv) and install everything on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kvlib-installed
BUILD  := _build
# The chapters are the notebooks listed in _toc.yml: listing a chapter there adds it to every check.
NOTEBOOKS := $(wildcard $(shell sed -n 's/^ *- *file: *\(.*\)$$/\1.ipynb/p; s/^root: *\(.*\)$$/\1.ipynb/p' _toc.yml))

# Executed notebooks are cached by jupyter-cache (_config.yml: execute_notebooks: cache), which
# keys each notebook on its own code cells only. What else its outputs depend on, the library,
# the pins and the execution settings, is hashed here: when that hash changes, `make book`
# empties the cache and every notebook executes afresh (the GitHub Pages build does the same).
JCACHE      := $(BUILD)/.jupyter_cache
EXEC_INPUTS  = $(shell find kvlib -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort) \
               requirements.txt pyproject.toml _config.yml

# MathJax 3 for the browser checks of the equations, offline (the published book loads it from
# its CDN); unpacked under $(BUILD), never committed. npm checks the tarball's registry integrity.
MATHJAX_VERSION := 3.2.2
MATHJAX := $(BUILD)/mathjax-$(MATHJAX_VERSION)/es5/tex-mml-chtml.js

# Notebooks execute in book/, so a relative data folder is made absolute here.
ifneq ($(strip $(KVLIB_DATA)),)
export KVLIB_DATA := $(abspath $(KVLIB_DATA))
endif

.PHONY: help venv book exec-cache test unit nbval notebooks figures bench gpu-check browser-deps mathjax data clean

help:
	@echo "make book      build the HTML book into $(BUILD)/html (a notebook executes again when it or kvlib changed)"
	@echo "make test      unit tests, packaging and HTML checks, nbval over every notebook"
	@echo "make notebooks re-execute the notebooks in place (their outputs are nbval's reference)"
	@echo "make figures   regenerate every registered figure as PNG + JSON into figures-out/"
	@echo "make bench     benchmarks + notebook timings -> book/appendix/bench/ (the Benchmarks page)"
	@echo "make gpu-check execute every notebook on CUDA: time and drift of checked numbers vs CPU"
	@echo "make data      fetch MNIST and Fashion-MNIST into KVLIB_DATA and check their SHA-256"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# KVLIB_PROGRESS=0: progress bars show in live sessions only, never in the HTML or committed outputs.
book: $(STAMP) exec-cache
	rm -rf $(BUILD)/html $(BUILD)/.doctrees $(BUILD)/jupyter_execute
	KVLIB_PROGRESS=0 $(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going

# Keep the executed-notebook cache only while kvlib, the pins and _config.yml are unchanged.
exec-cache:
	@inputs=$$(sha256sum $(EXEC_INPUTS) | sha256sum | cut -c1-64); \
	if [ "$$(cat $(JCACHE)/kvlib-inputs.sha256 2>/dev/null)" != "$$inputs" ]; then \
	  echo "kvlib, the pins or _config.yml changed: every notebook executes afresh"; \
	  rm -rf $(JCACHE); mkdir -p $(JCACHE); echo "$$inputs" > $(JCACHE)/kvlib-inputs.sha256; \
	fi

$(MATHJAX):
	rm -rf $(BUILD)/mathjax-$(MATHJAX_VERSION) && mkdir -p $(BUILD)/mathjax-$(MATHJAX_VERSION)
	cd $(BUILD) && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	tar xzf $(BUILD)/mathjax-$(MATHJAX_VERSION).tgz -C $(BUILD)/mathjax-$(MATHJAX_VERSION) --strip-components=1
	rm -f $(BUILD)/mathjax-$(MATHJAX_VERSION).tgz

mathjax:
	@$(MAKE) --no-print-directory $(MATHJAX) || \
	  echo "warning: could not fetch MathJax $(MATHJAX_VERSION) with npm; the equation checks will be skipped"

unit: $(STAMP) mathjax
	$(PY) -m pytest -q -n 2 --dist loadfile tests --doctest-modules kvlib

nbval: $(STAMP)
	$(PY) -m pytest -q --nbval-lax --nbval-current-env $(NOTEBOOKS)

# Style (ruff), then the unit tests, kvlib's docstring examples and nbval over every notebook, on
# two workers (a test file or notebook stays on one worker).
test: $(STAMP) mathjax
	$(VENV)/bin/ruff check kvlib tests conftest.py book
	$(PY) -m pytest -q -n 2 --dist loadfile tests $(NOTEBOOKS) --nbval-lax --nbval-current-env \
	  --doctest-modules kvlib

notebooks: $(STAMP)
	for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  KVLIB_PROGRESS=0 $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=900 "$$nb" || exit 1; \
	done

figures: $(STAMP)
	for f in $$($(PY) -m kvlib list | cut -d' ' -f1); do \
	  $(PY) -m kvlib reproduce $$f --out figures-out --no-progress || exit 1; \
	done

data: $(STAMP)
	$(PY) binder/fetch_data.py

# Headless Chromium and its driver, for the browser checks in tests/test_book.py: Debian's
# chromium and chromium-driver, unless a Chromium or Chrome and a chromedriver are already there
# (as on GitHub's runners).
browser-deps:
	@if command -v chromedriver >/dev/null && \
	    { command -v chromium || command -v google-chrome; } >/dev/null; then \
	  echo "browser checks use $$(command -v chromium || command -v google-chrome) and $$(command -v chromedriver)"; \
	else \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver; \
	fi

bench: $(STAMP)
	$(PY) -m kvlib bench --book . --out book/appendix/bench

gpu-check: $(STAMP)
	$(PY) -m kvlib notebooks --book . --device cuda

clean:
	rm -rf $(BUILD) figures-out .pytest_cache
