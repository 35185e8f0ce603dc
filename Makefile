# Everyday commands. Run them inside the dev virtual environment
# (python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]').
.PHONY: check format test snap bench ci

# Lint, the format check, types and the import contracts: what CI checks besides the tests.
check:
	ruff check .
	ruff format --check .
	mypy
	lint-imports

# Apply ruff's formatting (CI checks it).
format:
	ruff format .

# The whole suite in parallel, as the README's second command runs it.
test:
	python -m pytest -n auto

# Re-record the SVG snapshots after an intended change to a screen; read the diff before committing.
snap:
	python -m pytest tests/tui -n auto --snapshot-update

# Every benchmark once, with bytecode compiled as an installed tau has it (see bench/README.md).
bench:
	python -m compileall -q tau_engine tau_tui
	for script in bench/bench_*.py; do python "$$script" || exit 1; done

# What CI runs, from a fresh virtual environment.
ci:
	bash .ci/run
