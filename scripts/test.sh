#!/usr/bin/env bash
# Set up, then run the whole test suite (unit tests, pipelines in fast mode, notebooks, nbgrader, C++).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${TINYMLKIT_VENV:-.venv}
# Two workers (the machine's two cores); a file's tests stay on one worker so module fixtures are shared.
exec "$VENV/bin/python" -m pytest -n "${TINYMLKIT_TEST_WORKERS:-2}" --dist loadfile -p no:benchmark "$@"
