"""Broker settings (``NSED_BROKER_*``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings


class BrokerSettings(ServiceSettings, frozen=True, kw_only=True):
    min_phase_timeout_s: float = 15.0
    phase_timeout_factor: float = 4.0  # × the slowest member's p95 latency
    stale_after_s: float = 10.0  # ignore an agent card not refreshed for this long
    registry_sync_timeout_s: float = 10.0
