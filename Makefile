# FocusMIM Explorer. `make app` starts the explorer, `make test` runs every test;
# both do all the set-up first (virtual environment, offline foreground model).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# make app ADDRESS=0.0.0.0 to serve other machines
ADDRESS ?= 127.0.0.1
export U2NET_HOME ?= $(CURDIR)/.u2net
export PYTHONPATH := $(CURDIR)

.PHONY: setup app gradio test test-fast screenshots browser-deps bench lint clean

setup: $(VENV)/.installed $(U2NET_HOME)/u2netp.onnx

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(U2NET_HOME)/u2netp.onnx: $(VENV)/.installed
	$(PY) -m train.provision --home $(U2NET_HOME)

app: setup
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS) --server.headless true --browser.gatherUsageStats false

gradio: setup
	GRADIO_SERVER_NAME=$(ADDRESS) $(PY) gradio_app.py

browser-deps:
	@bash scripts/ensure_chromium.sh

test: setup browser-deps
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not browser and not slow"

# The README's pictures: the browser tests save their screenshots into docs/ (by default, a temporary folder).
screenshots: setup browser-deps
	FOCUSMIM_SCREENSHOTS=$(CURDIR)/docs $(PY) -m pytest tests/test_browser.py tests/test_browser_gradio.py

bench: setup
	$(PY) -m bench.run_all

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
