# kv-memory-book: `make book` builds the HTML book, `make test` runs every test.
# Both create the virtual environment (.venv) and install everything on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kvlib-installed
BUILD  := _build
# The chapters are the notebooks listed in _toc.yml: listing a chapter there adds it to every check.
NOTEBOOKS := $(wildcard $(shell sed -n 's/^ *- *file: *\(.*\)$$/\1.ipynb/p; s/^root: *\(.*\)$$/\1.ipynb/p' _toc.yml))

# Notebooks execute in book/, so a relative data folder is made absolute here.
ifneq ($(strip $(KVLIB_DATA)),)
export KVLIB_DATA := $(abspath $(KVLIB_DATA))
endif

.PHONY: help venv book test unit nbval notebooks figures bench gpu-check browser-deps clean

help:
	@echo "make book      build the HTML book (every notebook executed afresh) into $(BUILD)/html"
	@echo "make test      unit tests + nbval over every notebook"
	@echo "make notebooks re-execute the notebooks in place (their outputs are nbval's reference)"
	@echo "make figures   regenerate every registered figure as PNG + JSON into figures-out/"
	@echo "make bench     benchmarks + notebook timings -> book/appendix/bench/ (the Benchmarks page)"
	@echo "make gpu-check execute every notebook on CUDA: time and drift of checked numbers vs CPU"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# KVLIB_PROGRESS=0: progress bars show in live sessions only, never in the HTML or committed outputs.
book: $(STAMP)
	rm -rf $(BUILD)/html $(BUILD)/.doctrees $(BUILD)/jupyter_execute
	KVLIB_PROGRESS=0 $(VENV)/bin/jupyter-book build . --path-output . -W -n --keep-going

unit: $(STAMP)
	$(PY) -m pytest -q tests

nbval: $(STAMP)
	$(PY) -m pytest -q --nbval-lax --nbval-current-env $(NOTEBOOKS)

test: $(STAMP)
	$(PY) -m pytest -q tests $(NOTEBOOKS) --nbval-lax --nbval-current-env

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

# Debian's headless Chromium and its driver, for the browser checks in tests/test_book.py.
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

bench: $(STAMP)
	$(PY) -m kvlib bench --out book/appendix/bench

gpu-check: $(STAMP)
	$(PY) -m kvlib notebooks --device cuda

clean:
	rm -rf $(BUILD) figures-out .pytest_cache
