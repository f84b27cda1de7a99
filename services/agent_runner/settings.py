"""Agent-runner settings (``NSED_AGENT_RUNNER_*``; the pool file and agent id come from the
command line: ``nsed agent run CONFIG --agent ID``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings


class AgentRunnerSettings(ServiceSettings, frozen=True, kw_only=True):
    latency_scale: float = 1.0  # multiplies simulated latency (0 = as fast as possible)
    heartbeat_s: float = 2.0
    heartbeat_ttl_s: float = 6.0  # ≈ 3 heartbeats: a killed runner vanishes within this
    truth_cache: int = 4096
