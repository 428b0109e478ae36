# Two commands set up a fresh machine:  `make book`  (everything, on the embedded data)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo
# the suite's processes (pytest-xdist; each test file on one of them, the files of slow tests first as
# tests/conftest.py orders them, not xdist's largest-first): 0 runs it in this process alone
TEST_WORKERS ?= 2

.PHONY: install browser demo test lint core-check bench book clean

install: $(STAMP)

# torch is pinned here, not in pyproject, so that a GPU machine keeps its own CUDA build.
# compileall then compiles the environment on every core (25 s on 2 cores). It must be compiled here:
# where PYTHONDONTWRITEBYTECODE is set, as in many containers, a module left uncompiled is compiled
# again by every process that imports it (importing torch and the science stack took 8.3 s instead of
# 3.8 s, and the suite from a fresh clone 623 s instead of 522 s). A module compileall cannot compile
# (a file for another Python version) is imported as pip leaves it.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile torch==2.13.0
	$(PY) -m pip install --quiet --no-compile -e ".[all,test]"
	$(PY) -m compileall -qq -j 0 $$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))') asteris || true
	touch $(STAMP)

demo: install
	$(BIN)/asteris mock --out $(DEMO)/mock --figures --overwrite
	$(BIN)/asteris train $(DEMO)/mock/f200w.fits --run-dir $(DEMO)/run --preset tiny --overwrite
	$(BIN)/asteris denoise $(DEMO)/mock/f200w.fits --model $(DEMO)/run/model.pt --out $(DEMO)/denoised.fits \
		--png $(DEMO)/before_after.png --overwrite

# Debian's headless Chromium for the book's page check (its test skips where this cannot install it).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1) || \
	   echo "chromium could not be installed: the page check will be skipped")

lint: install
	$(BIN)/ruff check asteris tests benchmarks book

# A fresh .venv-core with the core alone (no extra): asteris info, train and denoise on a small stack,
# and each optional subpackage naming its extra.
core-check:
	bash tests/core_only/check_install.sh $(PYTHON) .venv-core

# The suite (with the rehearsal of full mode against the archives' stand-ins and the Colab install),
# then every chapter re-executed from a lone copy of its notebook in an empty folder and compared with
# its committed outputs (nbval), with the core-only install beside them (its pip, mostly waiting on
# files, is not started beside the suite: the suite builds a wheel from the same tree).
test: lint browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
	@log=$$(mktemp); bash tests/core_only/check_install.sh $(PYTHON) .venv-core >"$$log" 2>&1 & core=$$!; \
	  bash tests/lone_notebooks.sh $(PY); lone=$$?; \
	  wait $$core; checked=$$?; cat "$$log"; rm -f "$$log"; \
	  [ $$checked -eq 0 ] || echo "the core-only check failed"; [ $$lone -eq 0 ] && [ $$checked -eq 0 ]

# Executes every chapter (ci mode) and builds the HTML in _build/html; a failing cell or any
# Sphinx warning fails it. Then every page is rendered in headless Chromium and checked.
book: install browser
	$(PY) -m pip install --quiet -e ".[book]"
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml -W -n --keep-going
	touch _build/html/.nojekyll
	$(PY) book/check_pages.py _build/html --screenshots _build/screenshots

bench: install
	$(PY) benchmarks/throughput.py

clean:
	rm -rf $(DEMO) .pytest_cache build *.egg-info .venv-core
