#!/usr/bin/env bash
# Set up, then run the whole test suite (unit tests, pipelines in fast mode, notebooks, nbgrader, C++).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${TINYMLKIT_VENV:-.venv}
exec "$VENV/bin/python" -m pytest "$@"
