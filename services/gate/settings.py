"""Gate settings (``NSED_GATE_*``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings


class GateSettings(ServiceSettings, frozen=True, kw_only=True):
    retention_floor: float = 0.05  # items whose retention decays below this are forgotten
