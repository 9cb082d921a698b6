# Two commands on a fresh machine: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
export QT_API := pyside6

.PHONY: run test bench soak lint screenshot torch-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m workbench experiments/default-spiral.json

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks

soak: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m benchmarks.soak

lint: $(STAMP)
	$(BIN)/ruff check .

# A real window on a virtual 1280×720 screen (Debian: xvfb and the libxcb packages listed in
# docs/architecture.md), a fresh settings profile, every state reached through the menus.
screenshot: $(STAMP)
	HOME=$$(mktemp -d) QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x720x24" $(BIN)/python -m workbench.app.screenshots docs/screens

# Optional, not in CI: the optimizer tests that compare trajectories with torch.optim itself
# and the image layers (conv, pools, BatchNorm2d) against torch.nn
# run in a separate venv holding PyTorch (never a dependency of the product).
torch-check: $(STAMP)
	test -x .venv-torch/bin/python || ($(PYTHON) -m venv .venv-torch && .venv-torch/bin/pip install --quiet torch==2.13.0 numpy pytest pytest-qt hypothesis pydantic threadpoolctl)
	PYTHONPATH=. QT_QPA_PLATFORM=offscreen .venv-torch/bin/python -m pytest -q -p no:cacheprovider -p no:pytest-qt tests/engine/test_optimizers.py tests/engine/test_conv_torch.py
	PYTHONPATH=. .venv-torch/bin/python -m benchmarks.conv_torch

clean:
	rm -rf $(VENV) .venv-torch build *.egg-info
