# Two entry points for a fresh machine: `make demo` and `make test`.
# torch is pinned here (a CPU build on this machine); pyproject.toml keeps a range for users.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: demo test install install-dev lint clean

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

clean:
	rm -rf $(VENV) runs build dist *.egg-info
