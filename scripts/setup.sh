#!/usr/bin/env bash
# Set up the kit on this machine: Debian packages where we may install them, a virtual environment
# in .venv, and the kit itself with `pip install -e ".[dev]"`. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${TINYMLKIT_VENV:-.venv}
# Text-to-speech for the offline keyword set; compilers for the host and Cortex-M4 checks of the sketches' C++;
# QEMU to run that C++ on an emulated Cortex-M4; Chromium and its driver for the recorder page's browser test.
DEB_PACKAGES="espeak-ng flite sox g++ gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm chromium chromium-driver"

missing=()
for cmd in espeak-ng flite sox g++ arm-none-eabi-g++ qemu-system-arm chromium chromedriver; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    echo "setup: installing Debian packages for: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $DEB_PACKAGES >/dev/null
  else
    echo "setup: these programs are missing: ${missing[*]}"
    echo "       Debian/Ubuntu: sudo apt-get install $DEB_PACKAGES"
    echo "       macOS: brew install espeak-ng sox arm-none-eabi-gcc   (flite is optional)"
    echo "       The kit still runs without them: text-to-speech data needs espeak-ng or flite; the"
    echo "       Cortex-M checks skip without arm-none-eabi-g++ or qemu-system-arm, the recorder's browser"
    echo "       test without chromium."
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating the virtual environment $VENV"
  # System site packages let an existing TensorFlow (Colab, a lab image) be reused instead of reinstalled.
  "$PY" -m venv --system-site-packages "$VENV"
fi
# dev: tests, notebooks, nbgrader, Dask, Selenium; advanced: Flower for the federated-learning lessons.
"$VENV/bin/python" -m pip install -q -e ".[dev,advanced]"
# Jupyter looks for nbconvert's templates under the venv's own share/jupyter only; when nbconvert came
# from the system site packages they are not there and nbgrader's feedback step fails. Give the venv
# its own copy of the same nbconvert version.
if [ ! -d "$VENV/share/jupyter/nbconvert/templates" ]; then
  nbc=$("$VENV/bin/python" -c 'import nbconvert; print(nbconvert.__version__)')
  "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "nbconvert==$nbc"
fi
# librosa compiles some functions with numba on first use (minutes on a fresh install): do it now, not inside a
# graded cell whose timeout it would exceed.
"$VENV/bin/python" -m tinymlkit.audio.jit_cache
echo "setup: ready ($("$VENV/bin/python" -c 'import tinymlkit, sys; print("tinymlkit", tinymlkit.__version__, "on Python", sys.version.split()[0])'))"
