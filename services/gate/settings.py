"""Gate settings (``NSED_GATE_*``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from services._runtime.settings import Finite, Positive, ServiceSettings
from services.gate.halting import DEFAULT_BETA, DEFAULT_LAMBDA


class GateSettings(ServiceSettings, frozen=True, kw_only=True):
    # Items whose retention decays below this are forgotten; at 1 everything would be.
    retention_floor: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] = 0.05
    fatigue_lambda: Positive = DEFAULT_LAMBDA  # Λ of the efficiency–fatigue model (§5.5)
    # β: the quadratic context-fatigue coefficient. Any finite β, so that whatever the
    # bench's fit prints can be set here; β ≤ 0 is no fatigue (T_opt = ∞: no fatigue stop).
    fatigue_beta: Finite = DEFAULT_BETA
    # The accuracy another round must be expected to add (U(r+1) − U(r)) to be run: with
    # reviews near chance the expected gain is small, and the deliberation stops early.
    min_gain: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.02
