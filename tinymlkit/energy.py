"""Energy of one inference on the Nano 33 BLE's nRF52840: the CPU's datasheet current x supply x time.

The time is the kit's latency estimate (``tinymlkit.targets``: MACs x cycles per MAC / clock); the
current is the typical figure of the nRF52840 Product Specification for the CPU running CoreMark at
64 MHz from flash (table "CPU running" of the current consumption chapter), and the supply is the
specification's common test condition (3 V on VDD, 25 degC).

How far the two CPU figures are checked (see ``SOURCE_NOTE``): Nordic's online specification
(docs.nordicsemi.com, bundle ps_nrf52840) was searched; its "Compounded" and "Radio transmitting/
receiving" tables were read, the "CPU running" table itself could not be retrieved. The compounded
figures bound the CPU's share from below (CPU + radio minus radio alone: 1.7 mA on DC/DC, 4.6 mA on the
LDO), which 3.3 mA and 6.3 mA respect; the figures themselves still want a reading of that table.
What this leaves out, plainly: the board's other parts (sensors, LEDs, the USB and power circuitry of
the Arduino board), the radio, the microphone or camera, and the difference between CoreMark's
instruction mix and TFLM's kernels. It is the CPU's share of one inference, good for comparing models
with one another, not a battery-life figure.
"""
from __future__ import annotations

import dataclasses

from .targets import Target, get_target

__all__ = ["CpuPower", "NRF52840_DCDC", "NRF52840_LDO", "SOURCE_NOTE", "EnergyEstimate", "estimate", "energy_uj"]


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


_PS = ("nRF52840 Product Specification (Nordic Semiconductor, docs.nordicsemi.com ps_nrf52840), table 'CPU "
       "running' (Current consumption, Electrical specification): CoreMark @64 MHz from flash, HFXO, cache on, ")
_CONDITIONS = ", typical at 3 V on VDD, 25 degC; NOT yet confirmed against that table (tinymlkit.energy.SOURCE_NOTE)"

SOURCE_NOTE = ("The 'CPU running' table was not retrieved when these figures were last checked: 3.3 mA (DC/DC) and "
               "6.3 mA (LDO) are unconfirmed. Read in the same specification: table 'Compounded', IS0 = 8.1 mA "
               "(CPU running CoreMark from flash + radio transmitting @ 0 dBm, 1 Mbps BLE, HFXO, DC/DC) and IS2 = "
               "15.4 mA (the same on the LDO); table 'Radio transmitting/receiving', IRADIO_TX1 = 6.40 mA "
               "(0 dBm, DC/DC) and IRADIO_TX3 = 10.80 mA (0 dBm, LDO). So the CPU's share is at least 1.7 mA "
               "(DC/DC) and 4.6 mA (LDO); the clock both scenarios share makes the true figure higher.")
"""How far the current figures are checked against the specification, and what was read there."""

NRF52840_DCDC = CpuPower("nRF52840 CPU @64 MHz, DC/DC regulator", 3.3e-3, 3.0,
                         _PS + "Regulator = DC/DC: 3.3 mA" + _CONDITIONS)
"""Lower figure: the chip's DC/DC converter on (a board must fit its inductor and enable it)."""
NRF52840_LDO = CpuPower("nRF52840 CPU @64 MHz, LDO regulator", 6.3e-3, 3.0,
                        _PS + "LDO regulator: 6.3 mA" + _CONDITIONS)
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
