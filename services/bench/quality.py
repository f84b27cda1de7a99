"""``nsed bench quality``: accuracy by round on GSM8K with the default simulated pool.

Every task runs exactly ``rounds`` rounds (min_rounds = max_rounds), so the accuracy of
the NSED winner can be read after each round. Every task has the same team, pinned: by
default the ``team_size`` pool members with the best simulated p_g, one per family. (Left
to the broker, the team would change during the run as the telemetry comes in, and the
baselines would compare different teams.) In the same run:

- ``majority``: majority vote over the team's round-1 answers (ties: the lower seat);
- ``best_single``: the team member with the best round-1 accuracy, alone;
- ``self_moa``: that member sampled ``team_size`` times (independent seeds), majority;
- ``halted``: what NSED answers with its default halting rule, replayed on the recorded
  per-round evidence, conviction and unanimity (and how many rounds it takes);
- ``fit``: the efficiency–fatigue model fitted to the measured accuracy by round, β free,
  with whether the data identify β (``services/bench/fit.py``).

The agents are simulated (DESIGN §6.2); the report says so.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from schemas import subjects
from schemas.gate import DeliberationConcluded
from schemas.propose import ProposalSubmitted
from schemas.tally import TallyComputed
from schemas.task import Policy, TaskSubmitted
from services._runtime.errors import ConfigError
from services.agent_runner.backends.sim_model import simulate_proposal
from services.agent_runner.config import load_pool
from services.bench import fit as fitting
from services.bench.harness import DEFAULT_POOL, private_stack
from services.bench.report import machine
from services.cli import client
from services.core.answers import normalize_answer, same_answer
from services.gate.halting import DEFAULT_BETA, DEFAULT_LAMBDA, FatigueModel, decide

DATA = Path(__file__).resolve().parent / "data" / "gsm8k-test-500.jsonl"
IN_FLIGHT = 64

_result = msgspec.json.Decoder(DeliberationConcluded)
_proposal = msgspec.json.Decoder(ProposalSubmitted)


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


def default_team(team_size: int, pool_path: Path = DEFAULT_POOL) -> tuple[str, ...]:
    """The ``team_size`` simulated agents with the best math p_g, at most one per family."""
    simulated = [(a, a.sim) for a in load_pool(pool_path).agents if a.sim is not None]
    ranked = sorted(simulated, key=lambda pair: (-pair[1].precision("math").p_g, pair[0].id))
    team: list[str] = []
    families: set[str] = set()
    for agent, _ in ranked:
        if agent.family not in families:
            team.append(agent.id)
            families.add(agent.family)
    if len(team) < team_size:
        raise ValueError(f"the pool has {len(team)} simulated families, fewer than {team_size}")
    return tuple(team[:team_size])


def check_team(team: tuple[str, ...], pool_path: Path = DEFAULT_POOL) -> None:
    """A team the study can pin: two or more distinct simulated agents of the pool."""
    simulated = {a.id for a in load_pool(pool_path).agents if a.sim is not None}
    unknown = [agent_id for agent_id in team if agent_id not in simulated]
    if unknown:
        raise ConfigError(
            f"not a simulated agent of {pool_path.name}: {', '.join(unknown)} "
            f"(choose from {', '.join(sorted(simulated))})"
        )
    if len(set(team)) != len(team) or len(team) < 2:
        raise ConfigError(f"a team needs two or more distinct agents, got {', '.join(team)}")


def majority(answers: Iterable[str | None]) -> str | None:
    """The most common normalised answer; a tie goes to the one seen first."""
    seen = [a for a in (normalize_answer(x, "integer") for x in answers) if a is not None]
    if not seen:
        return None
    counts = Counter(seen)
    top = max(counts.values())
    return next(a for a in seen if counts[a] == top)


async def run_tasks(
    problems: list[Problem],
    team: tuple[str, ...],
    rounds: int,
    on_result: Callable[[int], None],
) -> tuple[dict[str, DeliberationConcluded], dict[str, list[ProposalSubmitted]], float]:
    """Run every problem through a private stack; results and round-1 proposals by task."""
    policy = Policy(
        team_size=len(team),
        min_rounds=rounds,
        max_rounds=rounds,
        deadline_s=3600,
        pinned_agents=team,
    )
    results: dict[str, DeliberationConcluded] = {}
    done = asyncio.Event()
    async with private_stack(DEFAULT_POOL) as stack:
        js = stack.nc.jetstream()
        gate = asyncio.Semaphore(IN_FLIGHT)
        finished: dict[str, asyncio.Event] = {p.task_id: asyncio.Event() for p in problems}

        async def on_message(msg: Any) -> None:
            result = _result.decode(msg.data)
            if result.task_id in finished and result.task_id not in results:
                results[result.task_id] = result
                finished[result.task_id].set()
                on_result(len(results))
                if len(results) == len(problems):
                    done.set()

        sub = await stack.nc.subscribe(subjects.RESULTS.format(task_id="*"), cb=on_message)
        started = time.perf_counter()

        async def submit(problem: Problem) -> None:
            async with gate:
                task = TaskSubmitted(
                    task_id=problem.task_id,
                    prompt=problem.question,
                    domain="math",
                    answer_format="integer",
                    reference_answer=problem.answer,
                    policy=policy,
                )
                await js.publish(
                    subjects.TASKS,
                    msgspec.json.encode(task),
                    headers={"Nats-Msg-Id": problem.task_id},
                )
                await finished[problem.task_id].wait()

        await asyncio.gather(*(submit(p) for p in problems))
        await done.wait()
        elapsed = time.perf_counter() - started
        await sub.unsubscribe()
        first_round = await round_one_proposals(stack.nc)
    return results, first_round, elapsed


async def round_one_proposals(nc: Any) -> dict[str, list[ProposalSubmitted]]:
    stored = await client.stored_messages(
        nc, subjects.filter_for(ProposalSubmitted), subjects.NSED_EVENTS, idle_s=1.0
    )
    by_task: dict[str, list[ProposalSubmitted]] = {}
    for proposal in (_proposal.decode(msg.data) for msg in stored):
        if proposal.round == 1:
            by_task.setdefault(proposal.task_id, []).append(proposal)
    for proposals in by_task.values():
        proposals.sort(key=lambda p: p.seat)
    return by_task


def replay_halting(result: DeliberationConcluded, model: FatigueModel, rounds: int) -> int:
    """The round the default halting rule would have stopped at, from the recorded rounds."""
    policy = Policy(max_rounds=rounds)
    for summary in result.summaries:
        tally = TallyComputed(
            task_id=result.task_id,
            round=summary.round,
            message_id="replay",
            scores=(),
            votes={},
            winner=summary.winner,
            conviction=summary.conviction,
            ok_proposals=summary.ok_proposals,
            valid_ballots=summary.valid_ballots,
            quorum_met=summary.quorum_met,
            unanimous=summary.unanimous,
        )
        decision = decide(
            round_number=summary.round,
            policy=policy,
            tally=tally,
            model=model,
            evidence=summary.evidence,
            now=0.0,
            deadline_at=float("inf"),
            round_duration_s=0.0,
        )
        if decision.stop:
            return summary.round
    return len(result.summaries)


def analyse(
    problems: list[Problem],
    results: dict[str, DeliberationConcluded],
    first_round: dict[str, list[ProposalSubmitted]],
    team: tuple[str, ...],
    rounds: int,
) -> dict[str, Any]:
    teams = {tuple(sorted(s.agent_id for s in r.team)) for r in results.values()}
    if teams != {tuple(sorted(team))}:
        raise RuntimeError(f"the pinned team was not kept: {sorted(teams)}")
    team_size = len(team)
    truth = {p.task_id: p.answer for p in problems}
    n = len(problems)

    def right(answer: str | None, task_id: str) -> bool:
        return same_answer(answer, truth[task_id], "integer")

    per_round: list[dict[str, Any]] = []
    for r in range(1, rounds + 1):
        correct = calls = prompt_tokens = 0
        for task_id, result in results.items():
            summary = result.summaries[r - 1]
            correct += right(summary.answer, task_id)
            calls += sum(u.calls for u in summary.usage.values())
            prompt_tokens += sum(u.input_tokens for u in summary.usage.values())
        per_round.append(
            {
                "round": r,
                "accuracy": round(correct / n, 4),
                "prompt_tokens_per_call": round(prompt_tokens / max(calls, 1), 1),
            }
        )

    individual: Counter[str] = Counter()
    majority_right = 0
    for task_id, proposals in first_round.items():
        majority_right += right(majority(p.extracted_answer for p in proposals), task_id)
        for p in proposals:
            individual[p.agent_id] += right(p.extracted_answer, task_id)
    best_agent, best_count = individual.most_common(1)[0]

    pool = {a.id: a for a in load_pool(DEFAULT_POOL).agents}
    params = pool[best_agent].sim
    assert params is not None
    self_moa_right = 0
    for problem in problems:
        samples = [
            simulate_proposal(
                params,
                agent_id=best_agent,
                task_id=problem.task_id,
                domain="math",
                answer_format="integer",
                round_number=1,
                truth=problem.answer,
                winner_answer=None,
                own_previous=None,
                seat=seat,
            ).answer
            for seat in range(team_size)
        ]
        self_moa_right += right(majority(samples), problem.task_id)

    members = [pool[agent_id].sim for agent_id in team]
    p_g = sum(individual[agent_id] for agent_id in team) / (team_size * n)
    p_v = sum(m.p_v for m in members if m is not None) / len(team)
    fitted = fitting.fit(
        [row["round"] for row in per_round], [row["accuracy"] for row in per_round], p_g, p_v
    )
    model = FatigueModel(
        p_g=sum(m.p_g for m in members if m) / len(team),
        p_v=p_v,
        lam=DEFAULT_LAMBDA,
        beta=DEFAULT_BETA,
    )
    stops = {t: replay_halting(results[t], model, rounds) for t in results}
    halted_right = sum(right(results[t].summaries[stops[t] - 1].answer, t) for t in results)
    total_cost = sum(r.cost_usd for r in results.values())
    total_tokens = sum(r.total.input_tokens + r.total.output_tokens for r in results.values())
    return {
        "suite": "quality",
        "tasks": n,
        "dataset": "gsm8k test (first N problems)",
        "simulated": True,
        "team": list(team),
        "team_size": team_size,
        "rounds": rounds,
        "per_round": per_round,
        "baselines": {
            "majority": round(majority_right / n, 4),
            "best_single": round(best_count / n, 4),
            "self_moa": round(self_moa_right / n, 4),
        },
        "baseline_agent": best_agent,
        "halted": {
            "accuracy": round(halted_right / n, 4),
            "mean_rounds": round(sum(stops.values()) / n, 3),
        },
        "fit": fitted.as_json() | {"p_g": round(p_g, 4), "p_v": round(p_v, 4)},
        "cost_usd": round(total_cost, 6),
        "cost_per_task_usd": round(total_cost / n, 8),
        "tokens_per_task": round(total_tokens / n, 1),
    }


async def run(
    tasks: int,
    team_size: int = 3,
    rounds: int = 6,
    on_result: Callable[[int], None] = print,
    team: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The study on ``tasks`` problems; ``team`` (agent ids) overrides the default team."""
    problems = load_gsm8k(tasks)
    team = team or default_team(team_size)
    check_team(team)
    results, first_round, elapsed = await run_tasks(problems, team, rounds, on_result)
    report = analyse(problems, results, first_round, team, rounds)
    report["elapsed_s"] = round(elapsed, 2)
    report["rounds_per_s"] = round(tasks * rounds / elapsed, 1)
    report["machine"] = machine()
    return report
