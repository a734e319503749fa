# Two commands a fresh clone needs: `make run` (set up + main job) and `make test` (set up + tests).
# `make benchmark` regenerates the headline table (README, docs/results/headline.*) from the shipped checkpoints.
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

# Every row, seen and unseen, single goals (the README's table), test split. A killed run resumes from the
# chunks in its partial file when started again. Composite goals too: make benchmark BENCH_GOALS="single composite".
# Smaller runs: make benchmark BENCH_TRIALS=10 BENCH_RESULTS=runs/out/benchmark/small BENCH_README=
# (an empty BENCH_README leaves the README alone)
BENCH_TRIALS ?= 200
BENCH_GOALS ?= single
BENCH_WORKERS ?= 2
BENCH_RESULTS ?= docs/results/headline
BENCH_README ?= README.md

benchmark: setup
	OMP_NUM_THREADS=1 $(PY) -m runs.benchmark --goals $(BENCH_GOALS) --split test --trials $(BENCH_TRIALS) \
		--workers $(BENCH_WORKERS) --partial runs/out/benchmark/headline-$(BENCH_TRIALS)-$(subst $(eval) ,-,$(BENCH_GOALS)).partial.jsonl \
		--json $(BENCH_RESULTS).json --markdown $(BENCH_RESULTS).md $(if $(BENCH_README),--readme $(BENCH_README))

.PHONY: setup run test benchmark
