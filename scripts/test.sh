#!/usr/bin/env bash
# Set up, then run the whole test suite (unit tests, pipelines in fast mode, notebooks, nbgrader, C++).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${TINYMLKIT_VENV:-.venv}
# Two workers (the machine's two cores); tests/conftest.py groups each file on one worker (module fixtures are
# made once), spreads the notebook runs, and puts the longest work first so both workers finish together.
exec "$VENV/bin/python" -m pytest -n "${TINYMLKIT_TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder -p no:benchmark "$@"
