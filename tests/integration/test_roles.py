"""Roles on a real NATS: the broker binds each role of the policy to an agent whose pool
entry lists it, and each seat's work carries its own role's instruction, no other."""

from __future__ import annotations

from pathlib import Path

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from services.core.roles import DEFAULTS
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer
from tests.support.wait import until

AGENTS = {  # id: (p_g, roles it may fill)
    "alpha": (0.65, ["solver", "verifier"]),
    "bravo": (0.60, ["solver"]),
    "charlie": (0.55, ["solver"]),
    "delta": (0.30, ["verifier"]),
}
MINE = "Recount every product by hand before you trust it."


def pool_file(path: Path) -> Path:
    entries = [
        f'[[agents]]\nid = "{agent}"\nmodel = "{agent}-model"\nfamily = "{agent}"\n'
        f"roles = {roles}\nmax_concurrency = 8\n[agents.sim]\np_g = {p_g}\np_v = 0.8\n"
        f"latency_median_s = 0.02\nlatency_sigma = 0.1\nreasoning_tokens = 20\nseed = {n}\n"
        for n, (agent, (p_g, roles)) in enumerate(AGENTS.items())
    ]
    path.write_text("\n".join(entries).replace("'", '"'))
    return path


async def test_each_role_sits_on_an_agent_that_may_fill_it_and_only_its_seats_get_its_instruction(
    nats_server: NatsServer, nc: Client, tmp_path: Path
) -> None:
    inproc = InProcessServices(url=nats_server.url, pool=pool_file(tmp_path / "pool.toml"),
                           home=str(tmp_path / "home"))  # fmt: skip
    work: list[ProposeRequested | ReviewRequested] = []

    async def seen(msg: Msg) -> None:  # a plain subscriber sees every publish on the stream
        kind = ProposeRequested if msg.subject.endswith(".propose") else ReviewRequested
        work.append(msgspec.json.decode(msg.data, type=kind))

    sub = await nc.subscribe("nsed.work.>", cb=seen)
    try:
        inproc.start_all(agents=tuple(AGENTS))
        await ready(nc, agents=tuple(AGENTS))
        task_id = nsed.new_task_id("roles")
        policy = {"team_size": 3, "roles": {"solver": 2, "verifier": 1}, "max_rounds": 1,
                  "min_rounds": 1, "role_instructions": {"verifier": MINE}}  # fmt: skip
        body = nsed.task(task_id, **policy)
        await nsed.publish_task(nc, body, msg_id=task_id)
        result = await nsed.wait_result(nc, task_id, timeout=60)
        # A repeated publish (same message id) reaches a plain subscriber too: count once.
        mine = await until(
            lambda: (
                len(w := {m.message_id: m for m in work if m.task_id == task_id}) == 6
                and list(w.values())
            ),
            what="three proposal and three review requests",
        )
    finally:
        await sub.unsubscribe()
        await inproc.close()
    # The verifier's seat goes to alpha, the one agent both strong and able to verify.
    assert {(s.agent_id, s.role) for s in result.team} == {
        ("alpha", "verifier"), ("bravo", "solver"), ("charlie", "solver"),
    }  # fmt: skip
    for m in mine:
        assert m.role in AGENTS[m.agent_id][1]
        expected = MINE if m.role == "verifier" else DEFAULTS["solver"]
        assert m.role_instruction == expected, (type(m).__name__, m.agent_id)
    assert (
        sorted(type(m).__name__ for m in mine) == ["ProposeRequested"] * 3 + ["ReviewRequested"] * 3
    )
