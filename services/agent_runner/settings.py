"""Agent-runner settings (``NSED_AGENT_RUNNER_*``; the pool file and agent id come from the
command line: ``nsed agent run CONFIG --agent ID``)."""

from __future__ import annotations

from services._runtime.settings import NonNegative, NonNegativeInt, Positive, ServiceSettings


class AgentRunnerSettings(ServiceSettings, frozen=True, kw_only=True):
    latency_scale: NonNegative = 1.0  # multiplies simulated latency (0 = as fast as possible)
    heartbeat_s: Positive = 2.0
    heartbeat_ttl_s: Positive = 6.0  # ≈ 3 heartbeats: a killed runner vanishes within this
    truth_cache: NonNegativeInt = 4096
    # The /v1 URL of the server `nsed stack up` runs for the agent's [agents.local] model.
    model_url: str = ""
