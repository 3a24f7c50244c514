# `make run` and `make test` do all the set-up themselves (scripts/setup.sh is idempotent).
PY := .venv/bin/python
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export LP_NUM_THREADS ?= 2

.PHONY: setup run test lint bench sample-clip clean

setup:
	@bash scripts/setup.sh

run: setup
	@bash scripts/run.sh

test: setup
	@bash scripts/test.sh

lint: setup
	@.venv/bin/ruff check app codec tests bench

bench: setup
	@bash scripts/bench.sh

sample-clip: setup
	@bash scripts/sample_clip.sh

clean:
	rm -rf .venv build *.egg-info .pytest_cache
