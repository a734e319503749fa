# Two commands a fresh clone needs: `make run` (set up + main job) and `make test` (set up + tests).
PY := .venv/bin/python

.venv/.installed: requirements.txt requirements-dev.txt
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements-dev.txt
	touch $@

setup: .venv/.installed

run: setup
	WANDB_MODE=offline $(PY) -m runs.pipeline

test: setup
	$(PY) -m ruff check .
	WANDB_MODE=offline $(PY) -m pytest

.PHONY: setup run test
