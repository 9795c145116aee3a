# CellTrack: `make test` and `make demo` create the environment when it is missing, then run.
VENV ?= .venv
PYTHON ?= python3
TORCH_PACKAGES ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.celltrack-installed
export TORCH_PACKAGES PYTHON

.PHONY: env test demo benchmark clean-env

env: $(STAMP)

$(STAMP): setup.py tools/setup_env.sh tools/install_detectron2.py
	bash tools/setup_env.sh $(VENV)
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

demo: $(STAMP)
	$(VENV)/bin/python tools/demo.py

benchmark: $(STAMP)
	$(VENV)/bin/python benchmarks/run.py

clean-env:
	rm -rf $(VENV)
