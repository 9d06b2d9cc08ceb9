.PHONY: run test test-fast bench lint setup

run:        ## set up and run Berth on its embedded defaults
	bash scripts/run.sh

test:       ## set up everything the tests need and run them all
	bash scripts/test.sh

test-fast:  ## unit tests only, no engine, nginx or browser
	.venv/bin/python -m pytest -m "not docker and not runtime and not nginx and not browser"

bench:      ## benchmarks: figures and ratios against a baseline
	bash scripts/bench.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

setup:
	bash scripts/setup.sh requirements-dev.txt
