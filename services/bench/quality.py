"""``nsed bench quality``: every protocol on the same pinned team, on GSM8K, at measured cost.

The services in memory with the team's agents of the pool (``study.services_bus``: their
own routes, without NATS); one batch of the same problems per strategy, each a policy of
the same pipeline (``Policy.protocol``, ``Policy.team``):

- ``nsed``: the full protocol with its halting rule;
- ``nsed_all_rounds``: nsed forced to run ``rounds`` rounds (``per_round`` and the fit);
- ``majority``: one proposal per member, the plurality answer (protocol ``vote``);
- ``best_single``: the member with the best round-1 accuracy in ``majority``, alone;
- ``self_moa``: that member sampled team-size times, plurality;
- ``majority_equal_tokens`` / ``self_moa_equal_tokens``: as many samples (of the team in
  turn / of the best member) as nsed's mean token spend buys at ``majority``'s tokens per
  call: the baselines at equal cost;
- ``moa``: two proposer layers and an aggregator; ``debate``: three rounds.

The team is pinned (by default the ``team_size`` best simulated p_g of the pool, one per
family), so every strategy runs on the same seats. ``fit`` is the efficiency–fatigue model
fitted to ``per_round`` with β free. The report keeps the keys of earlier versions
(``baselines``, ``halted``) and adds ``strategies``; a plot of accuracy against tokens is
written next to it. The agents are simulated; the report says so.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.task import Policy, ProtocolName
from services._runtime.errors import ConfigError
from services.agent_runner.config import load_pool
from services.bench import fit as fitting
from services.bench import study
from services.bench.harness import DEFAULT_POOL
from services.bench.plot import render_accuracy_vs_tokens
from services.bench.report import machine

Progress = Callable[[int], None]
DEFAULTS = Policy()


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
        raise ConfigError(
            f"{pool_path.name} has {len(team)} simulated families, fewer than {team_size}"
        )
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


def policy(
    protocol: ProtocolName,
    team: tuple[str, ...],
    *,
    max_rounds: int = DEFAULTS.max_rounds,
    min_rounds: int = DEFAULTS.min_rounds,
) -> Policy:
    """A strategy of the study: ``protocol`` on the pinned ``team``, with time to spare."""
    return Policy(
        protocol=protocol,
        team=team,
        deadline_s=3600,
        max_rounds=max_rounds,
        min_rounds=min_rounds,
    )


async def run(
    tasks: int,
    team_size: int = 3,
    rounds: int = 6,
    on_result: Progress = print,
    team: tuple[str, ...] = (),
    pool: Path = DEFAULT_POOL,
    plot_dir: Path | None = None,
) -> dict[str, Any]:
    """The study on ``tasks`` problems; ``team`` (agent ids) overrides the default team."""
    problems = study.load_gsm8k(tasks)
    team = team or default_team(team_size, pool)
    check_team(team, pool)
    started = time.perf_counter()
    bus = study.services_bus(pool, team)

    async def batch(name: str, chosen: Policy) -> study.Batch:
        return await study.run_batch(bus, problems, name, chosen, on_result)

    forced = await batch("nsed_all_rounds", policy("nsed", team, min_rounds=rounds,
                                                   max_rounds=rounds))  # fmt: skip
    nsed = await batch("nsed", policy("nsed", team, max_rounds=rounds))
    majority = await batch("majority", policy("vote", team))
    accuracy = study.per_agent_accuracy(study.first_proposals(bus, majority), problems)
    best = max(team, key=lambda agent: (accuracy.get(agent, 0.0), -team.index(agent)))
    per_call = majority.tokens_per_task() / len(team)
    samples = study.equal_token_samples(nsed.tokens_per_task(), per_call, len(team))
    round_robin = study.round_robin(team, samples)
    batches = [
        nsed,
        forced,
        majority,
        await batch("best_single", policy("vote", (best,))),
        await batch("self_moa", policy("vote", (best,) * len(team))),
        await batch("majority_equal_tokens", policy("vote", round_robin)),
        await batch("self_moa_equal_tokens", policy("vote", (best,) * samples)),
        await batch("moa", policy("moa", team, max_rounds=2)),
        await batch("debate", policy("debate", team, max_rounds=3)),
    ]
    elapsed = time.perf_counter() - started
    report = analyse(problems, team, rounds, batches, best, samples, accuracy, pool)
    report["elapsed_s"] = round(elapsed, 2)
    report["rounds_per_s"] = round(tasks * rounds / max(elapsed, 1e-9), 1)
    report["machine"] = machine()
    report["plot"] = str(write_plot(report, plot_dir))
    return report


def analyse(
    problems: list[study.Problem],
    team: tuple[str, ...],
    rounds: int,
    batches: list[study.Batch],
    best: str,
    samples: int,
    accuracy: dict[str, float],
    pool: Path,
) -> dict[str, Any]:
    by_name = {b.name: b for b in batches}
    for b in batches:  # every strategy ran on the pinned seats
        seated = {s.agent_id for r in b.results.values() for s in r.team}
        if not seated <= set(team):
            raise RuntimeError(f"{b.name} ran off the pinned team: {sorted(seated)}")
    n = len(problems)
    nsed, forced = by_name["nsed"], by_name["nsed_all_rounds"]
    per_round = study.per_round(forced, rounds, problems)
    members = {a.id: a.sim for a in load_pool(pool).agents if a.id in team}
    p_g = sum(accuracy.get(agent, 0.0) for agent in team) / len(team)
    p_v = sum(m.precision("math").p_v for m in members.values() if m) / len(team)
    fitted = fitting.fit([r["round"] for r in per_round], [r["accuracy"] for r in per_round],
                         p_g, p_v)  # fmt: skip
    strategies = [
        b.row(samples=samples) if b.name.endswith("_equal_tokens") else b.row() for b in batches
    ]
    return {
        "suite": "quality",
        "tasks": n,
        "dataset": "gsm8k test (first N problems)",
        "simulated": True,
        "pool": pool.name,
        "team": list(team),
        "team_size": len(team),
        "rounds": rounds,
        "strategies": strategies,
        "per_round": per_round,
        "baselines": {
            "majority": round(by_name["majority"].accuracy(), 4),
            "best_single": round(by_name["best_single"].accuracy(), 4),
            "self_moa": round(by_name["self_moa"].accuracy(), 4),
        },
        "baseline_agent": best,
        "equal_token_samples": samples,
        "halted": {
            "accuracy": round(nsed.accuracy(), 4),
            "mean_rounds": round(nsed.rounds_per_task(), 3),
            "stop_reasons": stop_reasons(nsed),
        },
        "fit": fitted.as_json() | {"p_g": round(p_g, 4), "p_v": round(p_v, 4)},
        "cost_usd": round(forced.cost_usd(), 6),
        "cost_per_task_usd": round(forced.cost_usd() / n, 8),
        "tokens_per_task": round(forced.tokens_per_task(), 1),
    }


def stop_reasons(batch: study.Batch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in batch.results.values():
        counts[result.stop_reason] = counts.get(result.stop_reason, 0) + 1
    return dict(sorted(counts.items()))


def write_plot(report: dict[str, Any], folder: Path | None = None) -> Path:
    """The accuracy-versus-tokens plot, next to the bench's other reports."""
    folder = folder or Path(os.environ.get("NSED_HOME", ".nsed")) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"quality-{stamp}.svg"
    shown = [s for s in report["strategies"] if s["strategy"] != "nsed_all_rounds"]
    title = f"GSM8K, {report['tasks']} tasks, simulated team {', '.join(report['team'])}"
    path.write_text(render_accuracy_vs_tokens(shown, per_round=report["per_round"], title=title))
    return path
