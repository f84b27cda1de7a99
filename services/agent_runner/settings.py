"""Agent-runner settings (``NSED_AGENT_RUNNER_*``; the pool file and agent id come from the
command line: ``nsed agent run CONFIG --agent ID``)."""

from __future__ import annotations

from services._runtime.settings import (
    AtLeastOne,
    NonNegative,
    NonNegativeInt,
    Positive,
    ServiceSettings,
)


class AgentRunnerSettings(ServiceSettings, frozen=True, kw_only=True):
    latency_scale: NonNegative = 1.0  # multiplies simulated latency (0 = as fast as possible)
    heartbeat_s: Positive = 2.0
    heartbeat_ttl_s: Positive = 6.0  # ≈ 3 heartbeats: a killed runner vanishes within this
    truth_cache: NonNegativeInt = 4096
    # Calls in a row that fail (after their retries) before the runner reports itself
    # unhealthy; it probes again after reprobe_first_s, then twice as long each time, at
    # most reprobe_max_s, until its backend answers.
    unhealthy_after: AtLeastOne = 3
    reprobe_first_s: Positive = 1.0
    reprobe_max_s: Positive = 30.0
    # The /v1 URL of the server `nsed stack up` runs for the agent's [agents.local] model.
    model_url: str = ""
    # Where a runner process writes its log besides stderr: "auto" is
    # $NSED_HOME/logs/agent-<id>-<instance>.log unless supervisord runs it (its program log
    # is the file then); "none": stderr only; anything else is a path.
    log_file: str = "auto"
