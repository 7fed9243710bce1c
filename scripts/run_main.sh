#!/usr/bin/env bash
# The main job on the embedded default: set up, make the offline keyword set, train a yes/no model,
# convert it to int8, evaluate float / LiteRT / TFLM, and write the sketch files into arduino_sketches/kws/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${TINYMLKIT_VENV:-.venv}
exec "$VENV/bin/tinymlkit" kws run --synthetic --out runs/kws --sketch arduino_sketches/kws "$@"
