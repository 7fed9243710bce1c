"""What the notebooks need around the lessons: fast mode, the Colab install line, an environment check."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

__all__ = ["COLAB_CHECKOUT", "fast_mode", "real_clips", "repository_url", "colab_install_commands", "environment_report", "show_environment",
           "run_dir"]

DEFAULT_REPOSITORY = "https://github.com/tinymlkit/tinyml-course-kit"


def fast_mode(explicit: bool | None = None) -> bool:
    """Fast mode: small data and few epochs. On when asked, or TINYMLKIT_FAST=1, or nbgrader is grading."""
    if explicit is not None:
        return bool(explicit)
    if os.environ.get("NBGRADER_EXECUTION"):
        return True
    return os.environ.get("TINYMLKIT_FAST", "").strip().lower() in ("1", "true", "yes", "on")


REAL_CLIPS_VARIABLE = "TINYMLKIT_REAL_CLIPS"
"""Environment variable naming a folder of real keyword clips (Speech Commands layout) for the notebooks."""


def real_clips(explicit: Any = None) -> Any:
    """A folder of real recordings for a notebook to score on: ``explicit``, else $TINYMLKIT_REAL_CLIPS, else None.

    The folder must exist (Speech Commands layout: one folder per word). None means the notebook has no
    real clips to use here (a laptop offline), and should say what it skipped.
    """
    from pathlib import Path

    from .errors import KitError

    value = explicit if explicit not in (None, "") else os.environ.get(REAL_CLIPS_VARIABLE, "").strip() or None
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        where = "REAL_CLIPS" if explicit not in (None, "") else REAL_CLIPS_VARIABLE
        raise KitError(f"{where} {path}: no such folder; give a folder of real clips in Speech Commands layout "
                       "(one folder per word), or None")
    return path


def repository_url() -> str:
    """The repository's address, from the installed package's metadata (pyproject's [project.urls])."""
    try:
        for entry in importlib.metadata.metadata("tinymlkit").get_all("Project-URL") or []:
            name, _, url = entry.partition(",")
            if name.strip().lower() == "repository":
                return url.strip()
    except importlib.metadata.PackageNotFoundError:
        pass
    return DEFAULT_REPOSITORY


COLAB_CHECKOUT = "/content/tinyml-course-kit"
"""Where the first cell of a notebook clones the repository on Colab."""


def colab_install_commands(url: str | None = None, checkout: str = COLAB_CHECKOUT) -> list[list[str]]:
    """The commands a notebook's first cell runs on Colab: clone the kit, install it, add the TTS programs.

    The clone brings the sketches and data cards along with the library. TensorFlow and Keras are not
    named: Colab's preinstalled versions satisfy the kit's ranges, so pip keeps them.
    """
    url = url or repository_url()
    return [["git", "clone", "--depth", "1", url, checkout],
            [sys.executable, "-m", "pip", "install", "-q", f"{checkout}[course]"],
            ["apt-get", "install", "-y", "-qq", "espeak-ng", "flite"]]


def run_dir(name: str) -> Any:
    """A folder for one notebook's outputs (models, plots): runs/NAME in a checkout, else ~/tinymlkit-runs/NAME."""
    from pathlib import Path

    from .paths import project_root

    root = project_root()
    base = root / "runs" if root is not None else Path.home() / "tinymlkit-runs"
    path = base / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def environment_report() -> dict[str, Any]:
    """Versions, whether the board's interpreter is here, TTS programs, and serial ports that look like a board."""
    import shutil

    from .runtime import tflm_available

    def version(pkg: str) -> str | None:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return None

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "in_colab": "google.colab" in sys.modules,
        "fast_mode": fast_mode(),
        "packages": {p: version(p) for p in ("tinymlkit", "tensorflow", "keras", "tflite-micro", "ai-edge-litert",
                                             "librosa", "pyserial")},
        "tflm_interpreter": tflm_available(),
        "tts": {t: shutil.which(t) is not None for t in ("espeak-ng", "flite")},
        "arm_compiler": shutil.which("arm-none-eabi-g++") is not None,
    }
    try:
        from serial.tools import list_ports

        report["serial_ports"] = [p.device for p in list_ports.comports()]
    except Exception:
        report["serial_ports"] = []
    return report


def show_environment() -> dict[str, Any]:
    """Print the environment report as a short checklist and return it."""
    r = environment_report()
    ok = lambda b: "yes" if b else "no"  # noqa: E731
    print(f"Python {r['python']} on {r['platform']}{' (Colab)' if r['in_colab'] else ''}")
    for pkg, v in r["packages"].items():
        print(f"  {pkg:<15} {v or 'not installed'}")
    print(f"TFLM interpreter (the board's runtime): {ok(r['tflm_interpreter'])}"
          + ("" if r["tflm_interpreter"] else "  -> int8 models run on LiteRT instead (may differ by a few LSB)"))
    print(f"Text-to-speech for the offline keyword set: espeak-ng {ok(r['tts']['espeak-ng'])}, flite {ok(r['tts']['flite'])}")
    print(f"Serial ports: {', '.join(r['serial_ports']) or 'none (use the virtual board: tinymlkit virtual-board)'}")
    print(f"Fast mode: {ok(r['fast_mode'])} (set TINYMLKIT_FAST=1 for quick runs)")
    return r
