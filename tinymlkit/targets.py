"""Boards a model can be deployed to: memory, clock, and the assumptions behind a latency estimate.

Every figure carries its source. Figures the kit could not measure on real hardware (the sketch's
own footprint, cycles per multiply-accumulate) are labelled as estimates, with how they were made,
so a learner can tell a datasheet value from a rule of thumb.
"""
from __future__ import annotations

import dataclasses

from .errors import KitError

__all__ = ["Target", "TARGETS", "NANO33BLE", "get_target", "UnknownTargetError"]


class UnknownTargetError(KitError, ValueError):
    """A target name the kit does not know."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A microcontroller board as far as deployment is concerned."""

    name: str
    """Short name used on the command line, such as ``nano33ble``."""
    board: str
    """Board name as sold."""
    mcu: str
    """Microcontroller part and CPU core."""
    clock_hz: int
    """CPU clock in hertz."""
    clock_source: str
    """Where the clock figure comes from."""
    flash_bytes: int
    """Flash the chip has, in bytes (datasheet)."""
    ram_bytes: int
    """RAM the chip has, in bytes (datasheet)."""
    memory_source: str
    """Where the flash and RAM figures come from."""
    sketch_flash_limit: int
    """Flash a sketch may use, in bytes, after the bootloader (the board package's upload limit)."""
    sketch_ram_limit: int
    """RAM the build tools let a sketch's static data use, in bytes."""
    limits_source: str
    """Where the two sketch limits come from."""
    sketch_flash_bytes: int
    """Estimated flash a TinyML sketch needs besides the model: core, TFLM runtime, kernels, own code."""
    sketch_ram_bytes: int
    """Estimated static RAM a TinyML sketch needs besides the tensor arena."""
    footprint_source: str
    """How the sketch footprint estimate was made, and how sure it is."""
    cycles_per_mac: float
    """Assumed CPU cycles per int8 multiply-accumulate for a whole TFLM inference with CMSIS-NN kernels."""
    cycles_per_mac_source: str
    """Where the cycles-per-MAC assumption comes from, and its uncertainty."""

    def latency_ms(self, macs: int) -> float:
        """Estimated inference time in milliseconds for a model with this many MACs."""
        return macs * self.cycles_per_mac / self.clock_hz * 1000.0


NANO33BLE = Target(
    name="nano33ble",
    board="Arduino Nano 33 BLE Sense (Rev1 and Rev2)",
    mcu="Nordic nRF52840, Arm Cortex-M4F",
    clock_hz=64_000_000,
    clock_source="nRF52840 Product Specification (Nordic Semiconductor), CPU section: 64 MHz Arm Cortex-M4 with FPU",
    flash_bytes=1024 * 1024,
    ram_bytes=256 * 1024,
    memory_source="nRF52840 Product Specification (Nordic Semiconductor): 1 MB flash, 256 KB RAM",
    sketch_flash_limit=983_040,
    sketch_ram_limit=262_144,
    limits_source=("Arduino Mbed OS Nano Boards core (arduino/ArduinoCore-mbed), boards.txt: "
                   "nano33ble.upload.maximum_size=983040 (the 64 KB bootloader keeps the rest) and "
                   "nano33ble.upload.maximum_data_size=262144"),
    sketch_flash_bytes=300 * 1024,
    sketch_ram_bytes=64 * 1024,
    footprint_source=("estimate, not measured: the Mbed OS core, the TFLM interpreter with CMSIS-NN kernels for "
                      "a handful of ops, and the sketch's sensor and serial code. No nRF52 core can be installed "
                      "on the kit's offline machines (see the project FACTS), so these are round figures with "
                      "room to spare; replace them with the numbers arduino-cli prints after a real compile"),
    cycles_per_mac=2.5,
    cycles_per_mac_source=("assumption: Cortex-M4's SMLAD instruction does two 16-bit MACs per cycle (Arm "
                           "Cortex-M4 Technical Reference Manual, instruction timings), a floor of 0.5 cycle/MAC; "
                           "CMSIS-NN (Lai, Suda and Chandra 2018, arXiv:1801.06601) reports a CIFAR-10 CNN of about "
                           "12 M MACs in about 100 ms on a 216 MHz Cortex-M7, about 1.8 cycles/MAC on that "
                           "dual-issue core; the single-issue M4 with TFLM's per-op overhead is taken as 2.5. "
                           "Expect the real figure within a factor of two; depthwise and small layers run slower "
                           "per MAC than large pointwise ones"),
)

TARGETS: dict[str, Target] = {NANO33BLE.name: NANO33BLE}
"""Known targets by command-line name."""


def get_target(name: str) -> Target:
    """The target with this name, or a clear error listing the known ones."""
    try:
        return TARGETS[name.strip().lower()]
    except KeyError:
        raise UnknownTargetError(f"unknown target {name!r}; known targets: {', '.join(sorted(TARGETS))}") from None
