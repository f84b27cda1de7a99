"""Gate settings (``NSED_GATE_*``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings
from services.gate.halting import DEFAULT_BETA, DEFAULT_LAMBDA


class GateSettings(ServiceSettings, frozen=True, kw_only=True):
    retention_floor: float = 0.05  # items whose retention decays below this are forgotten
    fatigue_lambda: float = DEFAULT_LAMBDA  # Λ of the efficiency–fatigue model (§5.5)
    fatigue_beta: float = DEFAULT_BETA  # β: the quadratic context-fatigue coefficient
