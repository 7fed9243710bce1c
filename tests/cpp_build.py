"""How the tests compile the sketches' C++: the board's flags, and one helper per build (host, Cortex-M4).

Used by test_sketches.py (the Cortex-M4F size check and the host build of the generated headers),
test_sketches_cpp.py and test_board_cpp.py (host drivers against Python) and test_qemu_m4.py (the same
drivers as bare-metal ELFs on QEMU). A failed compile fails the test with the compiler's message; a
missing compiler skips it, saying which package to install.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "arduino_sketches" / "libraries" / "TinyMLKit" / "src"
"""The board-independent TinyMLKit library the drivers test."""
CPP = Path(__file__).resolve().parent / "cpp"
"""The host/M4 test drivers."""
QEMU_DIR = Path(__file__).resolve().parent / "qemu"
"""Startup code and memory layout of the bare-metal QEMU build."""

# How the arduino:mbed_nano 4.2.4 core compiles C++ for the Nano 33 BLE (its platform.txt and the
# ARDUINO_NANO33BLE variant's flag files): gnu++14, the soft-float calling convention with the FPU, and
# the core's defines. Plain char is unsigned on ARM, so the host builds use -funsigned-char too.
BOARD_CXX_FLAGS = ["-std=gnu++14", "-DARDUINO=10607", "-DARDUINO_ARCH_MBED_NANO", "-DARDUINO_ARCH_MBED"]
"""The core's C++ dialect and defines."""
CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"]
"""The nRF52840's core as the board build targets it."""
ARM_FLAGS = [*CPU_FLAGS, "-Os", *BOARD_CXX_FLAGS, "-fno-exceptions", "-fno-rtti", "-ffunction-sections",
             "-fdata-sections"]
"""The board's C++ compile flags."""
HOST_FLAGS = [*BOARD_CXX_FLAGS, "-funsigned-char"]
"""The board's language and defines on the host compiler (x86 char is signed unless told otherwise)."""
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
"""On the project's own files: a warning is a failure."""

_ARM_SKIP = ("arm-none-eabi-g++ is not installed (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
             "libstdc++-arm-none-eabi-newlib); the Cortex-M4 build cannot be checked here")


def host_gxx() -> str:
    """The host g++, or skip the test."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed (apt-get install g++); the sketches' C++ cannot be checked here")
    return gxx


def arm_tool(name: str) -> str:
    """An arm-none-eabi tool (g++, gcc, size), or skip the test."""
    path = shutil.which(f"arm-none-eabi-{name}")
    if path is None:
        pytest.skip(_ARM_SKIP)
    return path


def _run(cmd: list[str], what: Path | str) -> None:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    assert r.returncode == 0, f"{what}: {r.stderr}"


def host_program(sources: list[Path], exe: Path, includes: tuple[Path, ...] = (LIB,), optimize: bool = True) -> Path:
    """Sources compiled and linked on the host with the board's language flags, warnings as errors."""
    _run([host_gxx(), *HOST_FLAGS, *(["-O2"] if optimize else []), *WARNINGS, *(f"-I{d}" for d in includes), *sources, "-o", exe], exe.name)
    return exe


def host_objects(sources: list[Path], out_dir: Path, includes: list[Path]) -> list[Path]:
    """Each source compiled (not linked) on the host like the board compiles it; the object files."""
    gxx, objs = host_gxx(), []
    for src in sources:
        obj = out_dir / f"{src.stem}.host.o"
        _run([gxx, *HOST_FLAGS, *WARNINGS, *(f"-I{d}" for d in includes), "-c", src, "-o", obj], src)
        objs.append(obj)
    return objs


def m4_objects(sources: list[Path], out_dir: Path, includes: list[Path], prefix: str = "") -> list[Path]:
    """Each source compiled for the board's Cortex-M4F with its C++ flags, warnings as errors."""
    gxx, objs = arm_tool("g++"), []
    for src in sources:
        obj = out_dir / f"{prefix}{src.stem}.o"
        _run([gxx, *ARM_FLAGS, *WARNINGS, *(f"-I{d}" for d in includes), "-c", src, "-o", obj], src)
        objs.append(obj)
    return objs


def m4_qemu_elf(out_dir: Path, name: str, sources: list[Path]) -> Path:
    """A bare-metal ELF for QEMU's mps2-an386 (startup and memory layout in tests/qemu/, newlib semihosting)."""
    gcc, gxx = arm_tool("gcc"), arm_tool("g++")
    start = out_dir / "startup.o"
    _run([gcc, *CPU_FLAGS, "-O2", *WARNINGS, "-c", QEMU_DIR / "startup.c", "-o", start], "startup.c")
    objs = [start, *m4_objects(sources, out_dir, [LIB, CPP], prefix=f"{name}_")]
    elf = out_dir / f"{name}.elf"
    _run([gxx, *CPU_FLAGS, "-nostartfiles", "-T", QEMU_DIR / "mps2_an386.ld", "--specs=rdimon.specs",
          "-Wl,--gc-sections", *objs, "-o", elf, "-lrdimon"], elf.name)
    return elf
