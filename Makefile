# Two commands set up a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo

.PHONY: install demo test lint bench book clean

install: $(STAMP)

# torch is pinned here, not in pyproject, so that a GPU machine keeps its own CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: install
	$(BIN)/asteris mock --out $(DEMO)/mock --figures --overwrite
	$(BIN)/asteris train $(DEMO)/mock/f200w.fits --run-dir $(DEMO)/run --preset tiny --overwrite
	$(BIN)/asteris denoise $(DEMO)/mock/f200w.fits --model $(DEMO)/run/model.pt --out $(DEMO)/denoised.fits \
		--png $(DEMO)/before_after.png --overwrite

lint: install
	$(BIN)/ruff check asteris tests benchmarks

# The suite, then every chapter re-executed and compared with its committed outputs (nbval).
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

test: lint
	$(PY) -m pytest
	$(PY) -m pytest $(NBVAL) notebooks/*.ipynb

# Executes every chapter (ci mode) and builds the HTML in _build/html; a failing cell or any
# Sphinx warning fails it.
book: install
	$(PY) -m pip install --quiet -e ".[book]"
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml -W -n --keep-going
	touch _build/html/.nojekyll

bench: install
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(DEMO) .pytest_cache build *.egg-info
