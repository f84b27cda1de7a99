"""A gate with β = 0 (no context fatigue, as the bench's own fit can produce) deliberates to
the end: the fatigue stop never fires, and nothing is dead-lettered on the way."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import SERVICES, InProcessServices

# Three agents that always answer wrong and review at p_v = 1 (a wrong candidate's latent
# score sits about 3.4 sd below zero): every review weight is strongly negative, so no
# round is unanimous or convincing (conviction 0) and the gate reaches its
# fatigue test after every round. Their declared priors (p_v > p_g) make k > 0, where
# β = 0 puts T_opt at infinity.
DISSENT_POOL = "\n".join(
    f"""
[[agents]]
id = "{name}"
model = "{name}-sim"
family = "{name}"
max_concurrency = 8
[agents.domains.default]
p_g = 0.55
p_v = 0.8
[agents.sim]
p_g = 0.0
p_v = 1.0
fatigue_g = 0.0
fatigue_v = 0.0
latency_median_s = 0.01
latency_sigma = 0.1
reasoning_tokens = 20
seed = {seed}
"""
    for seed, name in enumerate(("north", "south", "east"), start=1)
)


async def test_a_gate_without_fatigue_runs_a_contested_task_to_max_rounds(
    inproc: InProcessServices, nc: Client, tmp_path: Path
) -> None:
    pool = tmp_path / "dissent.toml"
    pool.write_text(DISSENT_POOL)
    inproc.pool = pool
    for name in SERVICES:
        inproc.start_service(name, **({"fatigue_beta": 0.0} if name == "gate" else {}))
    agents = ("north", "south", "east")
    for agent in agents:
        inproc.start_agent(agent)
    await ready(nc, agents=agents)
    task_id = nsed.new_task_id("nofatigue")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=3, deadline_s=60), msg_id=task_id)
    result = await nsed.wait_result(nc, task_id, timeout=30)
    # Every review rightly rejects every (wrong) proposal: no round has a supported winner
    # (a reviewer rating two wrong answers alike abstains, and a round may fall below
    # quorum), so the task never converges and nothing stops it for fatigue.
    assert result.status == "degraded"
    assert result.stop_reason in ("no_consensus", "no_quorum")
    assert result.rounds <= 3
    assert not any(s.unanimous or s.supported for s in result.summaries)
    assert result.halting is not None
    assert result.halting.beta == 0.0
    assert result.halting.k > 0
    assert result.halting.t_opt is None  # no peak: the fatigue stop cannot fire
    assert await nsed.dead_letters(nc, "gate") == []
    assert inproc.failures() == []
