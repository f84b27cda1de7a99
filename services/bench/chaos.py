"""``nsed bench chaos``: every accepted task gets exactly one result while processes die.

Starts a private stack under supervisord (``make up``'s, on free ports; ``cluster=3``: a
three-node NATS cluster), holds a plain subscription on ``nsed.results.>`` for the whole
run, and submits ``tasks`` simulated tasks, ``in_flight`` at a time. Meanwhile the monkey
(``monkey.py``) ``kill -9``s a random service or runner every few seconds, and
``nats-server`` (in a cluster: one node) once, when a third of the results are in;
supervisord restarts each. Each task is then ``answered``, ``missed``, ``lost`` or
``stuck`` (``outcomes.py``); the report counts them, the duplicate deliveries, the
degraded results, the kills and NATS restarts, and names every task that went wrong with
its record's state. A run with anything lost, duplicated or stuck keeps its stack's
directory (every process's log) and says where.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter
from typing import Any

import nats.errors
from nats.aio.client import Client

from schemas import subjects
from schemas.task import Policy
from services.bench import driver, evidence
from services.bench.harness import DEFAULT_POOL
from services.bench.inbox import HeldInbox, connect
from services.bench.monkey import Monkey, all_running
from services.bench.outcomes import Evidence, classify, tally
from services.bench.report import machine
from services.bench.supervised import supervised_stack

_SEAT = re.compile(r"^seat \d+ ")  # "seat 2 (qwen3-8b) did not…": counted per agent
GRACE_S = 30.0  # past a task's own deadline before it counts as stuck
IDLE_TIMEOUT_S = 60.0
SUBMIT_ERRORS = (nats.errors.Error, TimeoutError, OSError)


async def run(
    tasks: int = 300,
    *,
    cluster: int = 1,
    every_s: float = 3.0,
    in_flight: int = 50,
    rounds: int = 3,
    deadline_s: float = 120.0,
    latency_scale: float = 1.0,
    seed: int | None = None,
) -> dict[str, Any]:
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    env = {"NSED_AGENT_RUNNER_LATENCY_SCALE": str(latency_scale)}
    failed = False
    stack = supervised_stack(DEFAULT_POOL, cluster=cluster, env=env, keep=lambda: failed)
    async with stack as bench:
        inbox = await HeldInbox.open(bench.url, bench.home)
        nc = await connect(bench.url, "nsed-bench-chaos", bench.home)
        try:
            policy = Policy(
                team_size=3, min_rounds=rounds, max_rounds=rounds, deadline_s=deadline_s
            )
            ids = [f"chaos-{uuid.uuid4().hex[:8]}-{i}" for i in range(tasks)]
            monkey = Monkey(bench, rng, every_s, inbox.answered, nats_after=tasks // 3)
            stop = asyncio.Event()
            chaos = asyncio.create_task(monkey.run(stop))
            started = time.monotonic()
            window = asyncio.Semaphore(in_flight)
            await asyncio.gather(*(_one(nc, inbox, t, policy, window) for t in ids))
            seconds = time.monotonic() - started
            stop.set()
            await chaos
            down = await all_running(bench)
            idle = await evidence.wait_idle(nc, IDLE_TIMEOUT_S)
            await inbox.settle()
            report = await _report(nc, inbox, ids, monkey)
        finally:
            await nc.close()
            await inbox.close()
        failed = bool(report["lost"] or report["duplicates"] or report["stuck"])
        report.update(
            seconds=round(seconds, 1),
            cluster=cluster,
            seed=seed,
            every_s=every_s,
            in_flight=in_flight,
            rounds=rounds,
            not_restarted=down,
            idle_at_end=idle,
            kept=str(bench.home.parent) if failed else None,
            machine=machine(),
        )
        return report


async def _one(
    nc: Client, inbox: HeldInbox, task_id: str, policy: Policy, window: asyncio.Semaphore
) -> None:
    """Submit one task (again, under its id, while NATS does not answer), then wait for its
    result until its deadline has passed by ``GRACE_S``: on the subscription, or, if the
    subscription was away when it came, in the results stream."""
    assert policy.deadline_s is not None
    async with window:
        item = driver.task(task_id, policy)
        give_up = time.monotonic() + policy.deadline_s + GRACE_S
        while True:
            try:
                await driver.submit(nc, item)
                break
            except SUBMIT_ERRORS:
                if time.monotonic() > give_up:
                    return
                await asyncio.sleep(0.5)  # NATS restarting: the retry's backoff
        while time.monotonic() < give_up:
            if await inbox.wait(task_id, timeout=5.0) or await _stored(nc, task_id):
                return


async def _stored(nc: Client, task_id: str) -> bool:
    try:
        await nc.jetstream().get_last_msg(subjects.NSED_RESULTS, subjects.concluded(task_id))
    except Exception:  # not stored yet, or NATS restarting: either way not stored yet
        return False
    return True


async def _report(nc: Client, inbox: HeldInbox, ids: list[str], monkey: Monkey) -> dict[str, Any]:
    stored = await evidence.stored_results(nc)
    unanswered = [t for t in ids if not inbox.count(t)]
    records = await evidence.records(nc, unanswered)
    items = {
        t: Evidence(
            received=inbox.count(t),
            stored_at=min(stored[t]) if stored.get(t) else None,
            record=evidence.state(records.get(t)) if t in records else "done",
        )
        for t in ids
    }
    counts = tally(items.values(), inbox.missed)
    results = [inbox.received[t][0] for t in ids if inbox.count(t)]
    statuses = Counter(r.status for r in results)
    # Why results were degraded: the notes of their degraded rounds (a timed-out seat…),
    # else their stop reason (no consensus: the council's verdict, not lost work).
    why = Counter(
        _SEAT.sub("seat ", note)
        for r in results
        if r.status == "degraded"
        for note in ([n for s in r.summaries if s.degraded for n in s.notes] or [r.stop_reason])
    )
    problems = [
        {
            "task_id": t,
            "outcome": classify(items[t], inbox.missed),
            "received": inbox.count(t),
            "record": evidence.describe(records.get(t)),
        }
        for t in ids
        if items[t].received != 1
    ]
    return {
        "suite": "chaos",
        "tasks": len(ids),
        "lost": counts["lost"],
        "duplicates": counts["duplicates"],
        "stuck": counts["stuck"],
        "degraded": statuses["degraded"],
        "kills": len(monkey.kills),
        "nats_restarts": monkey.nats_restarts,
        "missed_while_reconnecting": counts["missed"],
        "stored_twice": sum(1 for t in ids if len(stored.get(t, ())) > 1),
        "statuses": dict(statuses),
        "degraded_why": dict(why.most_common(5)),
        "nats_outage_s": round(monkey.nats_outage_s, 2),
        "kills_by_program": monkey.by_program(),
        "kill_log": [kill.as_json() for kill in monkey.kills],
        "inbox_gaps_s": [round(back - lost, 2) for lost, back in inbox.gaps],
        "problems": problems,
    }


def table(report: dict[str, Any]) -> str:
    """The human summary: the counts that must be 0, then what was done to the stack."""
    nodes = "1 NATS node" if report["cluster"] == 1 else f"{report['cluster']}-node NATS cluster"
    head = (
        f"chaos: {report['tasks']} tasks on a {nodes} · {report['kills']} kills · "
        f"{report['nats_restarts']} NATS restart(s) · {report['seconds']} s\n"
    )
    keys = ("lost", "duplicates", "stuck", "degraded", "missed_while_reconnecting")
    rows = "| " + " | ".join(keys) + " |\n" + "|---" * len(keys) + "|\n"
    rows += "| " + " | ".join(str(report[k]) for k in keys) + " |\n"
    killed = " · ".join(f"{name} {n}" for name, n in report["kills_by_program"].items())
    tail = f"killed: {killed or 'nothing'}\n"
    for problem in report["problems"][:10]:
        tail += f"{problem['outcome']}: {problem['task_id']} ({problem['record']})\n"
    if report["kept"]:
        tail += f"logs kept in {report['kept']}\n"
    return head + rows + tail
