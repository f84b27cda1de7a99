"""Gate settings (``NSED_GATE_*``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from services._runtime.settings import NonNegative, Positive, ServiceSettings
from services.gate.halting import DEFAULT_BETA, DEFAULT_LAMBDA


class GateSettings(ServiceSettings, frozen=True, kw_only=True):
    # Items whose retention decays below this are forgotten; at 1 everything would be.
    retention_floor: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] = 0.05
    fatigue_lambda: Positive = DEFAULT_LAMBDA  # Λ of the efficiency–fatigue model (§5.5)
    # β: the quadratic context-fatigue coefficient; 0 turns the fatigue stop off.
    fatigue_beta: NonNegative = DEFAULT_BETA
