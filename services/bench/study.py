"""The quality study's runs: the problems, one batch of tasks per strategy on one bus of the
services in memory (``services/inmemory.py``: the services' own routes, without NATS), and
what each batch answered and cost.

Every batch asks the same problems under its own task ids. Simulated agents key their draws
on the problem (``backends/sim.problem_key``), so two strategies meet the same difficulty
and the same first answers on the same seats: their accuracies are paired. A strategy's
cost is what its calls reported (tokens in and out, calls), from the results' usage.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.gate import DeliberationConcluded
from schemas.limits import MAX_TEAM
from schemas.propose import ProposalSubmitted
from schemas.task import Policy, TaskSubmitted
from services._runtime.memory_bus import MemoryBus
from services.agent_runner.config import load_pool
from services.bench.quality_report import RoundRow, StrategyRow
from services.core.answers import same_answer
from services.inmemory import ManualClock, in_memory

DATA = Path(__file__).resolve().parent / "data" / "gsm8k-test-500.jsonl"


@dataclass(frozen=True)
class Problem:
    task_id: str
    question: str
    answer: str


def load_gsm8k(count: int, path: Path = DATA) -> list[Problem]:
    problems = []
    with path.open() as lines:
        for i, line in enumerate(lines):
            if i >= count:
                break
            row = json.loads(line)
            answer = row["answer"].rsplit("####", 1)[-1].strip().replace(",", "")
            problems.append(
                Problem(task_id=f"gsm8k-{i:04d}", question=row["question"], answer=answer)
            )
    if len(problems) < count:
        raise ValueError(f"only {len(problems)} problems in {path}")
    return problems


@dataclass(frozen=True)
class Batch:
    """One strategy's results, by problem id."""

    name: str
    results: dict[str, DeliberationConcluded]

    def accuracy(self) -> float:
        return sum(bool(r.correct) for r in self.results.values()) / len(self.results)

    def tokens_per_task(self) -> float:
        spent = sum(r.total.input_tokens + r.total.output_tokens for r in self.results.values())
        return spent / len(self.results)

    def calls_per_task(self) -> float:
        return sum(r.total.calls for r in self.results.values()) / len(self.results)

    def rounds_per_task(self) -> float:
        return sum(r.rounds for r in self.results.values()) / len(self.results)

    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.results.values())

    def row(self, samples: int | None = None) -> StrategyRow:
        """The strategy as the report lists it (``samples``: an equal-token baseline's)."""
        n = len(self.results)
        acc = self.accuracy()
        return StrategyRow(
            strategy=self.name,
            accuracy=round(acc, 4),
            stderr=round(math.sqrt(acc * (1 - acc) / n), 4),
            tokens_per_task=round(self.tokens_per_task(), 1),
            calls_per_task=round(self.calls_per_task(), 2),
            rounds_per_task=round(self.rounds_per_task(), 3),
            samples=samples,
        )


def task_id(strategy: str, problem: Problem) -> str:
    return f"{strategy.replace('_', '-')}-{problem.task_id}"


def services_bus(pool: Path, agents: Sequence[str]) -> MemoryBus:
    """The services in memory with ``agents`` of ``pool`` (simulated), on one bus. Its clock
    stands still, so no deadline comes near; the gate's stats reach the broker after
    every delivery, as the stats bucket carries it over NATS."""
    services = in_memory(ManualClock(time.time()))
    profiles = load_pool(pool)
    for agent in sorted(set(agents)):
        services.add_agent(profiles.agent(agent))
    return services.bus(after_each=services.flush_stats)


async def run_batch(
    bus: MemoryBus,
    problems: Sequence[Problem],
    name: str,
    policy: Policy,
    on_result: Callable[[int], None] = lambda _: None,
) -> Batch:
    """Every problem as a task of ``policy``, deliberated to its result."""
    by_task = {task_id(name, p): p for p in problems}
    bus.publish(
        TaskSubmitted(
            task_id=tid,
            prompt=problem.question,
            domain="math",
            answer_format="integer",
            reference_answer=problem.answer,
            policy=policy,
        )
        for tid, problem in by_task.items()
    )
    await bus.run()
    results: dict[str, DeliberationConcluded] = {}
    for result in bus.of_type(DeliberationConcluded):
        problem = by_task.get(result.task_id)
        if problem is not None and problem.task_id not in results:
            results[problem.task_id] = result
            on_result(len(results))
    if len(results) < len(by_task):
        raise RuntimeError(f"{name}: {len(by_task) - len(results)} tasks ended without a result")
    return Batch(name=name, results=results)


def first_proposals(bus: MemoryBus, batch: Batch) -> dict[str, list[ProposalSubmitted]]:
    """The round-1 proposals of a batch, by problem id, in seat order."""
    wanted = {r.task_id: problem for problem, r in batch.results.items()}
    by_problem: dict[str, list[ProposalSubmitted]] = {}
    for proposal in bus.of_type(ProposalSubmitted):
        problem = wanted.get(proposal.task_id)
        if problem is not None and proposal.round == 1:
            by_problem.setdefault(problem, []).append(proposal)
    for proposals in by_problem.values():
        proposals.sort(key=lambda p: p.seat)
    return by_problem


def per_agent_accuracy(
    proposals: dict[str, list[ProposalSubmitted]], problems: Sequence[Problem]
) -> dict[str, float]:
    """Each agent's share of right answers among its round-1 proposals."""
    truth = {p.task_id: p.answer for p in problems}
    right: dict[str, int] = {}
    seen: dict[str, int] = {}
    for problem, items in proposals.items():
        for p in items:
            seen[p.agent_id] = seen.get(p.agent_id, 0) + 1
            hit = same_answer(p.extracted_answer, truth[problem], "integer")
            right[p.agent_id] = right.get(p.agent_id, 0) + int(hit)
    return {agent: right.get(agent, 0) / n for agent, n in seen.items()}


def per_round(batch: Batch, rounds: int, problems: Sequence[Problem]) -> list[RoundRow]:
    """Accuracy of the round's leading answer after each round of a run forced to ``rounds``,
    with the prompt tokens per call and the tokens spent up to that round."""
    truth = {p.task_id: p.answer for p in problems}
    n = len(batch.results)
    rows: list[RoundRow] = []
    spent = 0.0
    for r in range(1, rounds + 1):
        correct = calls = prompt = 0
        for problem, result in batch.results.items():
            summary = result.summaries[r - 1]
            correct += same_answer(summary.answer, truth[problem], "integer")
            calls += sum(u.calls for u in summary.usage.values())
            prompt += sum(u.input_tokens for u in summary.usage.values())
            spent += sum(u.input_tokens + u.output_tokens for u in summary.usage.values())
        rows.append(
            RoundRow(
                round=r,
                accuracy=round(correct / n, 4),
                prompt_tokens_per_call=round(prompt / max(calls, 1), 1),
                tokens_per_task=round(spent / n, 1),
            )
        )
    return rows


def round_robin(team: Sequence[str], seats: int) -> tuple[str, ...]:
    """``seats`` seats over ``team`` in turn: the team sampled as evenly as it can be."""
    return tuple(team[i % len(team)] for i in range(seats))


def equal_token_samples(budget_tokens: float, tokens_per_call: float, floor: int) -> int:
    """How many one-call samples ``budget_tokens`` buys (at least ``floor``, at most the
    seats a vote may have: ``MAX_TEAM``; the report says how many were taken)."""
    if tokens_per_call <= 0:
        return floor
    return min(max(floor, round(budget_tokens / tokens_per_call)), MAX_TEAM)
