#!/usr/bin/env bash
# The main job on the embedded default: set up, make the offline keyword set, train a yes/no model,
# convert it to int8, evaluate float / LiteRT / TFLM, and write the sketch files into arduino_sketches/kws/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${TINYMLKIT_VENV:-.venv}
# Where real recordings sit beside the checkout (the project's reference data), the summary also scores
# the model on those real speakers; a user's clone without them skips that line.
real=()
if [ -d ../shared/data/speech_commands_v0.02_test_dev ]; then
  real=(--real-eval ../shared/data/speech_commands_v0.02_test_dev)
fi
exec "$VENV/bin/python" -m tinymlkit kws run --synthetic --model ds_cnn_tiny --out runs/kws --sketch arduino_sketches/kws "${real[@]}" "$@"
