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
    """Central estimate of CPU cycles per int8 multiply-accumulate for a whole TFLM inference
    (interpreter, every op, memory waits), with the kernels the pinned library uses."""
    cycles_per_mac_low: float
    """Lower end of the plausible range (the fastest published kernels would get here)."""
    cycles_per_mac_high: float
    """Upper end of the plausible range (ops that fall back to TFLM's portable reference kernels)."""
    cycles_per_mac_source: str
    """Where the cycles-per-MAC figures come from, how they were derived, and their uncertainty."""

    def latency_ms(self, macs: int) -> float:
        """Estimated inference time in milliseconds for a model with this many MACs (central figure)."""
        return macs * self.cycles_per_mac / self.clock_hz * 1000.0

    def latency_range_ms(self, macs: int) -> tuple[float, float]:
        """The (low, high) inference time in milliseconds the sources allow for this many MACs."""
        return (macs * self.cycles_per_mac_low / self.clock_hz * 1000.0,
                macs * self.cycles_per_mac_high / self.clock_hz * 1000.0)


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
                      "a handful of ops, and the sketch's sensor and serial code. The kit's own test machines "
                      "cannot install the nRF52 core, so these are round figures with room to spare; replace them with the numbers arduino-cli prints after a real compile"),
    # Derivation (the numbers behind the three figures below):
    #   MLPerf Tiny v0.5 reference submission, TFLM on an Arm Cortex-M4 at 120 MHz (NUCLEO-L4R5ZI):
    #   keyword spotting (DS-CNN, ~2.7 M MACs) 181.9 ms -> 21.8 M cycles -> 8.1 cycles/MAC;
    #   visual wake words (MobileNetV1 0.25, 96x96x3, ~7.5 M MACs) 600.6 ms -> 72.1 M cycles -> 9.6.
    #   Its build (mlcommons/tiny v0.1 reference_submissions/*/mbed_setup.sh) generates the TFLM Mbed
    #   project without the cmsis-nn tag: these are TFLM's portable reference kernels.
    #   CMSIS-NN (Lai, Suda and Chandra 2018, arXiv:1801.06601) reports 4.6x the throughput of plain
    #   kernels on a whole CNN; 8.8 (mean of the two) / 4.6 = 1.9 cycles/MAC with CMSIS-NN.
    #   The SMLAD instruction (two 16-bit MACs per cycle) puts the floor at 0.5; the low end, 1.0, is an
    #   assumption (twice the central speed), not a published figure.
    cycles_per_mac=1.9,
    cycles_per_mac_low=1.0,
    cycles_per_mac_high=9.6,
    cycles_per_mac_source=("estimate, not measured on this board: 1.9 cycles/MAC (range 1.0-9.6) for a whole "
                           "TFLM inference. The high end is measured: MLPerf Tiny v0.5's TFLM reference "
                           "submission on a 120 MHz Cortex-M4 (NUCLEO-L4R5ZI; Banbury et al. 2021, "
                           "arXiv:2106.07597) took 181.9 ms for keyword spotting (DS-CNN, ~2.7 M MACs: 8.1 "
                           "cycles/MAC) and 600.6 ms for visual wake words (MobileNetV1 0.25, ~7.5 M MACs: 9.6 "
                           "cycles/MAC) with TFLM's portable reference kernels. The pinned library runs CMSIS-NN"
                           " kernels, which Lai, Suda and Chandra (arXiv:1801.06601) report 4.6x faster on a "
                           "whole CNN: 8.8 / 4.6 = 1.9. The low end (1.0, an assumption) is twice that speed, "
                           "still above the Cortex-M4's SMLAD floor of 0.5 (two 16-bit MACs per cycle). The "
                           "sources give whole-model figures only, so one figure covers every op type; depthwise"
                           " and small layers run slower per MAC than large pointwise ones. `tinymlkit bench "
                           "--port PORT` reports the board's own figure"),
)

TARGETS: dict[str, Target] = {NANO33BLE.name: NANO33BLE}
"""Known targets by command-line name."""


def get_target(name: str) -> Target:
    """The target with this name, or a clear error listing the known ones."""
    try:
        return TARGETS[name.strip().lower()]
    except KeyError:
        raise UnknownTargetError(f"unknown target {name!r}; known targets: {', '.join(sorted(TARGETS))}") from None
