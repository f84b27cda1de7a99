"""One call a runner makes when it first goes live, so that its card reports the latency of
the hardware its model really runs on before any task depends on it.

The probe is a proposal for a small fixed question, with the agent's own prompts and
``max_tokens``: the size of a real proposal call. It is not part of any task and is not
billed to one; ``probe = false`` in the pool's ``[agents.openai]`` turns it off (a paid API
then starts from the declared latency). A probe that fails is one warning line, and the
runner goes live *unhealthy* (``services/agent_runner/health.py``): the broker does not
seat it, and it probes again until its backend answers. The same call is what an unhealthy
runner probes with, whether or not the start probe is on.
"""

from __future__ import annotations

import time

import structlog

from schemas.propose import ProposeRequested
from schemas.task import TaskView
from services.agent_runner.backends.base import AgentBackend
from services.agent_runner.config import AgentProfile
from services.agent_runner.latency import Latency

PROBE_QUESTION = "A farmer has 12 sheep and buys 5 more. How many sheep does the farmer have?"
PROBE_DEADLINE_S = 3600.0

log = structlog.get_logger("agent_runner")


def probe_request(profile: AgentProfile, now: float) -> ProposeRequested:
    return ProposeRequested(
        task_id="probe",
        round=1,
        message_id="probe",
        seat=0,
        agent_id=profile.id,
        task=TaskView(task_id="probe", prompt=PROBE_QUESTION, answer_format="integer"),
        deadline=now + PROBE_DEADLINE_S,
    )


async def probe(backend: AgentBackend, profile: AgentProfile, latency: Latency) -> str | None:
    """One probe call; the reason it failed, or None when the backend answered."""
    started = time.perf_counter()
    try:
        draft = await backend.propose(probe_request(profile, time.time()))
    except Exception as exc:  # whatever it is, the backend did not answer
        error = str(exc) or repr(exc)
        log.warning("probe_failed", error=error)
        return error
    latency.observe(draft.latency_s)
    median, p95 = latency.estimate()
    log.info(
        "probe",
        seconds=round(time.perf_counter() - started, 2),
        output_tokens=draft.output_tokens,
        latency_median_s=round(median, 2),
        latency_p95_s=round(p95, 2),
    )
    return None
