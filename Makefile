# Two commands on a fresh machine: `make test` and `make demo` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE ?= data/sample
DEMO   ?= runs/demo
PYTEST_ARGS ?=

.PHONY: test demo install sample-data bench kaggle-bundle clean

# Creates the virtual environment if missing and installs from the project's own files.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests build/nbval $(PYTEST_ARGS)

sample-data: $(STAMP)
	$(BIN)/python -m monet_utils sample-data $(SAMPLE)

# The main job on the embedded sample set: the whole notebook chain (data exploration,
# stage 1, stage 2 + control, images.zip, extra recipes) with params/demo.yaml.
demo: sample-data
	$(BIN)/python -m monet_utils preview --data-dir $(SAMPLE) --out $(DEMO)/preview.png
	$(BIN)/python -m monet_utils run-notebooks --params params/demo.yaml --output-dir $(DEMO)/notebooks
	@echo "demo: executed notebooks and HTML in $(DEMO)/notebooks, runs and figures in $(DEMO), zip: $(DEMO)/images.zip"

# Folders for `kaggle datasets create` / `kaggle kernels push` (see kaggle/README.md).
KAGGLE_USER ?= YOUR_KAGGLE_USERNAME
KAGGLE_ATTACH ?=
kaggle-bundle: $(STAMP)
	$(BIN)/python -m monet_utils kaggle-bundle kaggle/bundle --username $(KAGGLE_USER) $(if $(KAGGLE_ATTACH),--attach $(KAGGLE_ATTACH))

bench: $(STAMP)
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
