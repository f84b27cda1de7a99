"""Agreement is consensus: a team whose members all give the same answer stops at
min_rounds, whatever its size (issue 12, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.aio.client import Client

from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices

AGENTS = ("ada", "ben", "cy", "dee", "eve")
# Always right (p_g = 1) and reviewing sharply (p_v = 1: a right candidate's latent score
# sits about 3.4 sd above zero, so its weights are positive), one family each.
ALWAYS_RIGHT = "\n".join(
    f"""
[[agents]]
id = "{name}"
model = "{name}-sim"
family = "{name}"
max_concurrency = 16
[agents.sim]
p_g = 1.0
p_v = 1.0
fatigue_g = 0.0
fatigue_v = 0.0
latency_median_s = 0.01
latency_sigma = 0.1
reasoning_tokens = 20
seed = {seed}
"""
    for seed, name in enumerate(AGENTS, start=1)
)


@pytest.mark.parametrize("team_size", [2, 3, 5])
async def test_a_team_that_agrees_stops_at_min_rounds_at_any_size(
    inproc: InProcessServices, nc: Client, tmp_path: Path, team_size: int
) -> None:
    pool = tmp_path / "always_right.toml"
    pool.write_text(ALWAYS_RIGHT)
    inproc.pool = pool
    inproc.start_all(agents=AGENTS)
    await ready(nc, agents=AGENTS)
    inbox = await nsed.ResultInbox.open(nc)
    ids = {}
    for min_rounds in (1, 2):
        task_id = nsed.new_task_id(f"agree{team_size}")
        ids[min_rounds] = task_id
        body = nsed.task(task_id, team_size=team_size, min_team=2, min_rounds=min_rounds,
                         max_rounds=6)  # fmt: skip
        await nsed.publish_task(nc, body, msg_id=task_id)
    for min_rounds, task_id in ids.items():
        result = await inbox.result(task_id, timeout=60)
        assert (result.status, result.stop_reason) == ("completed", "converged"), result.detail
        assert result.rounds == min_rounds
        assert len(result.team) == team_size
        assert result.correct is True
        assert all(s.unanimous and s.supported for s in result.summaries[min_rounds - 1 :])
