"""Broker settings (``NSED_BROKER_*``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings
from services.broker.valuation import Valuation


class BrokerSettings(ServiceSettings, frozen=True, kw_only=True):
    solver_time_limit_s: float = 1.0
    # Valuation (services/broker/valuation.py): how priors and telemetry become value.
    prior_strength: float = 10.0
    explore: float = 1.0
    expected_rounds: int = 3
    expected_input_tokens: int = 1500
    expected_output_tokens: int = 600
    busy_penalty: float = 0.05
    min_phase_timeout_s: float = 15.0
    phase_timeout_factor: float = 4.0  # × the slowest member's p95 latency
    stale_after_s: float = 10.0  # ignore an agent card not refreshed for this long
    registry_sync_timeout_s: float = 10.0

    def valuation(self) -> Valuation:
        return Valuation(
            prior_strength=self.prior_strength,
            explore=self.explore,
            input_tokens=self.expected_input_tokens,
            output_tokens=self.expected_output_tokens,
            expected_rounds=self.expected_rounds,
            busy_penalty=self.busy_penalty,
        )
