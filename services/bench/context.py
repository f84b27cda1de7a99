"""``nsed bench context``: prompt size by round, NSED against a full-history prompt.

NSED carries a bounded consensus state and a seat's own critiques between rounds (§5.4). A
full-history protocol (Mixture-of-Agents layers, multi-agent debate) shows every agent all
previous rounds' responses instead. Both are measured on the same run: tasks deliberated
for ``rounds`` rounds by the default simulated pool, each proposal's real prompt size for
NSED, and for the baseline the same task prompt plus every response (answer and reasoning,
as those protocols pass them) of every member in the rounds before. Proposal calls are
compared with proposal calls; reviews, which only NSED has, are reported apart. The
simulated agents write a one-line answer and put their working in ``reasoning``, so the
baseline is shown both with complete responses (``full_history``, what MoA and debate pass
for models that reason in their answer) and with answers only.
"""

from __future__ import annotations

import statistics
from typing import Any, TypeVar

import msgspec

from schemas import subjects
from schemas.base import Message
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewSubmitted
from schemas.task import Policy, TaskView
from services.agent_runner import prompts
from services.bench import driver
from services.bench.harness import private_stack
from services.bench.report import machine
from services.bench.study import load_gsm8k
from services.cli import client
from services.core.tokens import estimate_tokens

M = TypeVar("M", bound=Message)


def first_prompt_tokens(task: TaskView) -> int:
    first = ProposeRequested(
        task_id=task.task_id, round=1, message_id="", seat=0, agent_id="", task=task, deadline=0
    )
    return prompts.prompt_tokens(prompts.propose_messages(first))


def full_history_tokens(task: TaskView, earlier: list[ProposalSubmitted]) -> int:
    """A round-r proposal prompt that carries every response of rounds 1..r−1."""
    history = "\n\n".join(
        f"Round {p.round}, member {p.seat}:\n{p.reasoning or ''}\n{p.content}" for p in earlier
    )
    return first_prompt_tokens(task) + estimate_tokens(history)


def answers_only_tokens(task: TaskView, earlier: list[ProposalSubmitted]) -> int:
    """The same, with only each response's final text (no reasoning) carried."""
    history = "\n\n".join(f"Round {p.round}, member {p.seat}:\n{p.content}" for p in earlier)
    return first_prompt_tokens(task) + estimate_tokens(history)


async def events(nc: Any, kind: type[M]) -> list[M]:
    """Every stored event of one type, decoded."""
    decoder = msgspec.json.Decoder(kind)
    stored = await client.stored_messages(
        nc, subjects.filter_for(kind), subjects.NSED_EVENTS, idle_s=1.0
    )
    return [decoder.decode(msg.data) for msg in stored]


async def run(tasks: int = 20, rounds: int = 6) -> dict[str, Any]:
    problems = load_gsm8k(tasks)
    policy = Policy(team_size=3, min_rounds=rounds, max_rounds=rounds, deadline_s=600)
    async with private_stack(latency_scale=0.0) as stack:
        collector, sub = await driver.listen(stack.nc)
        for p in problems:
            await driver.submit(stack.nc, driver.task(p.task_id, policy, p.question, p.answer))
        for p in problems:
            if await collector.wait(p.task_id, timeout=300) is None:
                raise RuntimeError(f"{p.task_id} got no result")
        await sub.unsubscribe()
        proposals = await events(stack.nc, ProposalSubmitted)
        reviews = await events(stack.nc, ReviewSubmitted)
    views = {
        p.task_id: TaskView(task_id=p.task_id, prompt=p.question, answer_format="integer")
        for p in problems
    }
    per_round = []
    for r in range(1, rounds + 1):
        mine = [p for p in proposals if p.round == r]
        baseline = [
            full_history_tokens(
                views[p.task_id], [q for q in proposals if q.task_id == p.task_id and q.round < r]
            )
            for p in mine
        ]
        per_round.append(
            {
                "round": r,
                "nsed": round(statistics.mean(p.usage.input_tokens for p in mine), 1),
                "full_history": round(statistics.mean(baseline), 1),
                "nsed_review": round(
                    statistics.mean(v.usage.input_tokens for v in reviews if v.round == r), 1
                ),
            }
        )
    last = per_round[-1]
    final = [p for p in proposals if p.round == rounds]
    answers_only = statistics.mean(
        answers_only_tokens(
            views[p.task_id], [q for q in proposals if q.task_id == p.task_id and q.round < rounds]
        )
        for p in final
    )
    return {
        "suite": "context",
        "per_round": per_round,
        "ratio_round6": round(last["full_history"] / last["nsed"], 2),
        # The same baseline carrying only each response's final text (reasoning models that
        # return their reasoning apart): the simulated answers are one line, so this is low.
        "answers_only_round6": round(answers_only, 1),
        "tasks": tasks,
        "rounds": rounds,
        "simulated": True,
        "machine": machine(),
    }
