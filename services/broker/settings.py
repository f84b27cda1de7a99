"""Broker settings (``NSED_BROKER_*``)."""

from __future__ import annotations

from services._runtime.settings import (
    AtLeastOne,
    NonNegative,
    NonNegativeInt,
    Positive,
    ServiceSettings,
)
from services.broker.valuation import Valuation


class BrokerSettings(ServiceSettings, frozen=True, kw_only=True):
    solver_time_limit_s: Positive = 1.0
    # Valuation (services/broker/valuation.py): how priors and stats become value.
    prior_strength: Positive = 10.0  # > 0: with no trials yet it is the divisor
    explore: NonNegative = 1.0
    expected_rounds: AtLeastOne = 3
    expected_input_tokens: NonNegativeInt = 1500
    expected_output_tokens: NonNegativeInt = 600
    busy_penalty: NonNegative = 0.05
    min_phase_timeout_s: Positive = 15.0
    phase_timeout_factor: Positive = 4.0  # × the slowest member's p95 latency
    stale_after_s: Positive = 10.0  # ignore an agent card not refreshed for this long
    registry_sync_timeout_s: Positive = 10.0
    # Start a new task only while no live agent has this many work items waiting per slot
    # (services/broker/admission.py); 0: start every task at once, however many queue.
    queue_per_slot: NonNegative = 1.0
    admission_poll_s: Positive = 0.1

    def valuation(self) -> Valuation:
        return Valuation(
            prior_strength=self.prior_strength,
            explore=self.explore,
            input_tokens=self.expected_input_tokens,
            output_tokens=self.expected_output_tokens,
            expected_rounds=self.expected_rounds,
            busy_penalty=self.busy_penalty,
        )
