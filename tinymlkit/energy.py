"""Energy of one inference on the Nano 33 BLE's nRF52840: the CPU's datasheet current x supply x time.

The time is the kit's latency estimate (``tinymlkit.targets``: MACs x cycles per MAC / clock); the
current is the nRF52840 Product Specification's typical figure for the CPU running CoreMark at 64 MHz
from flash with the cache on, and the supply is the specification's common test condition (3.0 V).
What this leaves out, plainly: the board's other parts (sensors, LEDs, the USB and power circuitry of
the Arduino board), the radio, the microphone or camera, and the difference between CoreMark's
instruction mix and TFLM's kernels. It is the CPU's share of one inference, good for comparing models
with one another, not a battery-life figure.
"""
from __future__ import annotations

import dataclasses

from .targets import Target, get_target

__all__ = ["CpuPower", "NRF52840_DCDC", "NRF52840_LDO", "EnergyEstimate", "estimate", "energy_uj"]


@dataclasses.dataclass(frozen=True)
class CpuPower:
    """The current a microcontroller's CPU draws while it computes, with where the figure comes from."""

    name: str
    """Short name of the operating point."""
    current_a: float
    """Typical supply current in amperes with the CPU running."""
    supply_v: float
    """Supply voltage the current was specified at, in volts."""
    source: str
    """Document, table and conditions the figures come from."""

    @property
    def power_w(self) -> float:
        """Power drawn while computing, in watts."""
        return self.current_a * self.supply_v


_PS = ("Nordic Semiconductor, nRF52840 Product Specification v1.7 (2021), section 'CPU running' of the "
       "electrical specification (current consumption chapter): CPU running CoreMark at 64 MHz from flash, "
       "clock HFXO, cache enabled, typical values at the common conditions VDD = 3 V, 25 degC. "
       "Cross-check in the same document's compounded table: CPU running plus radio TX at 0 dBm on DC/DC "
       "is 8.1 mA, the radio alone 4.8 mA")

NRF52840_DCDC = CpuPower("nRF52840 CPU @64 MHz, DC/DC regulator", 3.3e-3, 3.0, _PS + "; I_CPU with DC/DC: 3.3 mA")
"""Lower figure: the chip's DC/DC converter on (a board must fit its inductor and enable it)."""
NRF52840_LDO = CpuPower("nRF52840 CPU @64 MHz, LDO regulator", 6.3e-3, 3.0, _PS + "; I_CPU with LDO: 6.3 mA")
"""Upper figure: the internal LDO regulator (the chip's default after reset)."""


@dataclasses.dataclass(frozen=True)
class EnergyEstimate:
    """Latency and CPU energy of one inference, with the assumptions behind both."""

    macs: int
    """Multiply-accumulates of the inference (from ``tinymlkit.inspect``)."""
    latency_ms: float
    """Estimated time on the target (``Target.latency_ms``)."""
    energy_uj: float
    """CPU energy in microjoules at the lower (DC/DC) current."""
    energy_uj_ldo: float
    """The same at the upper (LDO) current."""
    cycles_per_mac: float
    """The target's cycles-per-MAC assumption used for the time."""
    cycles_source: str
    """Where the cycles-per-MAC figure comes from."""
    power_source: str
    """Where the current figures come from."""

    def to_json(self) -> dict[str, object]:
        """Plain data for JSON results."""
        return {"macs": self.macs, "latency_ms": round(self.latency_ms, 3), "energy_uj": round(self.energy_uj, 3),
                "energy_uj_ldo": round(self.energy_uj_ldo, 3), "cycles_per_mac": self.cycles_per_mac,
                "sources": {"cycles_per_mac": self.cycles_source, "cpu_current": self.power_source}}


def energy_uj(latency_ms: float, power: CpuPower = NRF52840_DCDC) -> float:
    """Energy in microjoules of computing for ``latency_ms`` at a CPU operating point."""
    return power.power_w * latency_ms * 1e-3 * 1e6


def estimate(macs: int, target: str | Target = "nano33ble") -> EnergyEstimate:
    """Latency (the target's own estimate) and CPU energy (nRF52840 datasheet current) of an inference."""
    t = get_target(target) if isinstance(target, str) else target
    ms = t.latency_ms(int(macs))
    return EnergyEstimate(macs=int(macs), latency_ms=ms, energy_uj=energy_uj(ms, NRF52840_DCDC),
                          energy_uj_ldo=energy_uj(ms, NRF52840_LDO), cycles_per_mac=t.cycles_per_mac,
                          cycles_source=t.cycles_per_mac_source, power_source=NRF52840_DCDC.source)
