#!/usr/bin/env bash
# Set up, then run the whole test suite (unit tests, pipelines in fast mode, notebooks, nbgrader, C++).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${TINYMLKIT_VENV:-.venv}
# Two workers (the machine's two cores); tests/conftest.py groups each file on one worker (module fixtures are
# made once), spreads the notebook runs, and puts the longest work first so both workers finish together.
WORKERS=${TINYMLKIT_TEST_WORKERS:-2}
# Each worker's processes get their share of the cores: TensorFlow, OpenBLAS and OpenMP otherwise start a pool
# as large as the machine in every process, and two workers' pools on two cores take turns (and spin) on them.
case "$WORKERS" in
  0) THREADS=$(nproc) ;;  # no workers: one test at a time may use every core
  ''|*[!0-9]*) THREADS=1 ;;  # "auto" or "logical": as many workers as cores
  *) THREADS=$(( $(nproc) / WORKERS )); [ "$THREADS" -ge 1 ] || THREADS=1 ;;
esac
for v in TF_NUM_INTRAOP_THREADS TF_NUM_INTEROP_THREADS OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS; do
  export "$v=${!v:-$THREADS}"
done
exec "$VENV/bin/python" -m pytest -n "$WORKERS" --dist loadgroup --no-loadscope-reorder -p no:benchmark "$@"
