# Two entry points for a fresh machine: `make demo` and `make test`.
# torch is pinned here (a CPU build on this machine); pyproject.toml keeps a range for users.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: demo test test-pandas3 install install-dev lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	touch $@

# The tests exercise every optional extra, so the test set-up installs them all.
EXTRAS := dev,postgres,stats,onnx,mlflow,stream,distributed

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/forecast demo --out runs/demo

lint: install-dev
	$(BIN)/ruff check .

test: install-dev lint
	$(BIN)/python -m pytest -q

# The test set-up above runs pandas 2 (statsforecast, in the stats extra, pins pandas < 3), while a plain
# `pip install forecast` gets pandas 3: this second environment runs the fast tests under pandas 3, with
# every extra but stats (its tests skip there).
VENV3  ?= .venv-pandas3
EXTRAS3 := dev,postgres,onnx,mlflow,stream,distributed

$(VENV3)/.installed:
	$(PYTHON) -m venv $(VENV3)
	$(VENV3)/bin/pip install -q --upgrade pip
	$(VENV3)/bin/pip install -q $(TORCH)
	$(VENV3)/bin/pip install -q -e '.[$(EXTRAS3)]' 'pandas>=3'
	touch $@

test-pandas3: $(VENV3)/.installed
	$(VENV3)/bin/python -c 'import pandas, sys; sys.exit(0 if int(pandas.__version__.split(".")[0]) >= 3 else "pandas 3 expected, got " + pandas.__version__)'
	$(VENV3)/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

clean:
	rm -rf $(VENV) $(VENV3) runs build dist *.egg-info
