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
fitted to ``per_round`` with β free. Each strategy is one function of the ``Seats`` to its
``Policy``; the report is a ``quality_report.QualityReport``, which keeps the keys of earlier
versions (``baselines``, ``halted``) and adds ``strategies``; a plot of accuracy against
tokens is written next to it. The agents are simulated; the report says so.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from schemas.task import Policy, ProtocolName
from services._runtime.errors import ConfigError
from services.agent_runner.config import load_pool
from services.bench import fit as fitting
from services.bench import study
from services.bench.harness import DEFAULT_POOL
from services.bench.plot import render_accuracy_vs_tokens
from services.bench.quality_report import Baselines, FitReport, Halted, Machine, QualityReport
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


@dataclass(frozen=True)
class Seats:
    """What every strategy is built from: the pinned team, the study's rounds, and (once
    ``majority`` has run) the team's best member and the samples nsed's tokens buy."""

    team: tuple[str, ...]
    rounds: int
    best: str = ""
    samples: int = 0


def nsed_all_rounds(s: Seats) -> Policy:
    return policy("nsed", s.team, min_rounds=s.rounds, max_rounds=s.rounds)


def nsed(s: Seats) -> Policy:
    return policy("nsed", s.team, max_rounds=s.rounds)


def majority(s: Seats) -> Policy:
    return policy("vote", s.team)


def best_single(s: Seats) -> Policy:
    return policy("vote", (s.best,))


def self_moa(s: Seats) -> Policy:
    return policy("vote", (s.best,) * len(s.team))


def majority_equal_tokens(s: Seats) -> Policy:
    return policy("vote", study.round_robin(s.team, s.samples))


def self_moa_equal_tokens(s: Seats) -> Policy:
    return policy("vote", (s.best,) * s.samples)


def moa(s: Seats) -> Policy:
    return policy("moa", s.team, max_rounds=2)


def debate(s: Seats) -> Policy:
    return policy("debate", s.team, max_rounds=3)


Strategy = Callable[[Seats], Policy]
# Each runs once nsed's spend and majority's best member are known, in this order.
BASELINES: tuple[Strategy, ...] = (
    best_single,
    self_moa,
    majority_equal_tokens,
    self_moa_equal_tokens,
    moa,
    debate,
)


async def run(
    tasks: int,
    team_size: int = 3,
    rounds: int = 6,
    on_result: Progress = print,
    team: tuple[str, ...] = (),
    pool: Path = DEFAULT_POOL,
    plot_dir: Path | None = None,
) -> QualityReport:
    """The study on ``tasks`` problems; ``team`` (agent ids) overrides the default team."""
    problems = study.load_gsm8k(tasks)
    team = team or default_team(team_size, pool)
    check_team(team, pool)
    started = time.perf_counter()
    bus = study.services_bus(pool, team)

    async def batch(strategy: Strategy, seats: Seats) -> study.Batch:
        return await study.run_batch(bus, problems, strategy.__name__, strategy(seats), on_result)

    seats = Seats(team=team, rounds=rounds)
    forced = await batch(nsed_all_rounds, seats)
    halted = await batch(nsed, seats)
    voted = await batch(majority, seats)
    accuracy = study.per_agent_accuracy(study.first_proposals(bus, voted), problems)
    best = max(team, key=lambda agent: (accuracy.get(agent, 0.0), -team.index(agent)))
    per_call = voted.tokens_per_task() / len(team)
    samples = study.equal_token_samples(halted.tokens_per_task(), per_call, len(team))
    seats = Seats(team=team, rounds=rounds, best=best, samples=samples)
    batches = [halted, forced, voted] + [await batch(b, seats) for b in BASELINES]
    elapsed = time.perf_counter() - started
    report = analyse(problems, seats, batches, accuracy, pool, elapsed)
    return msgspec.structs.replace(report, plot=str(write_plot(report, plot_dir)))


def analyse(
    problems: list[study.Problem],
    seats: Seats,
    batches: list[study.Batch],
    accuracy: dict[str, float],
    pool: Path,
    elapsed: float,
) -> QualityReport:
    team, rounds = seats.team, seats.rounds
    by_name = {b.name: b for b in batches}
    for b in batches:  # every strategy ran on the pinned seats
        seated = {s.agent_id for r in b.results.values() for s in r.team}
        if not seated <= set(team):
            raise RuntimeError(f"{b.name} ran off the pinned team: {sorted(seated)}")
    n = len(problems)
    halted, forced = by_name["nsed"], by_name["nsed_all_rounds"]
    per_round = study.per_round(forced, rounds, problems)
    members = {a.id: a.sim for a in load_pool(pool).agents if a.id in team}
    p_g = sum(accuracy.get(agent, 0.0) for agent in team) / len(team)
    p_v = sum(m.precision("math").p_v for m in members.values() if m) / len(team)
    fitted = fitting.fit([r.round for r in per_round], [r.accuracy for r in per_round], p_g, p_v)
    equal_cost = (majority_equal_tokens.__name__, self_moa_equal_tokens.__name__)
    return QualityReport(
        tasks=n,
        pool=pool.name,
        team=team,
        team_size=len(team),
        rounds=rounds,
        strategies=tuple(
            b.row(samples=seats.samples if b.name in equal_cost else None) for b in batches
        ),
        per_round=tuple(per_round),
        baselines=Baselines(
            majority=round(by_name["majority"].accuracy(), 4),
            best_single=round(by_name["best_single"].accuracy(), 4),
            self_moa=round(by_name["self_moa"].accuracy(), 4),
        ),
        baseline_agent=seats.best,
        equal_token_samples=seats.samples,
        halted=Halted(
            accuracy=round(halted.accuracy(), 4),
            mean_rounds=round(halted.rounds_per_task(), 3),
            stop_reasons=stop_reasons(halted),
        ),
        fit=msgspec.convert(
            fitted.as_json() | {"p_g": round(p_g, 4), "p_v": round(p_v, 4)}, FitReport
        ),
        cost_usd=round(forced.cost_usd(), 6),
        cost_per_task_usd=round(forced.cost_usd() / n, 8),
        tokens_per_task=round(forced.tokens_per_task(), 1),
        elapsed_s=round(elapsed, 2),
        rounds_per_s=round(n * rounds / max(elapsed, 1e-9), 1),
        machine=msgspec.convert(machine(), Machine),
    )


def stop_reasons(batch: study.Batch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in batch.results.values():
        counts[result.stop_reason] = counts.get(result.stop_reason, 0) + 1
    return dict(sorted(counts.items()))


def write_plot(report: QualityReport, folder: Path | None = None) -> Path:
    """The accuracy-versus-tokens plot, next to the bench's other reports."""
    folder = folder or Path(os.environ.get("NSED_HOME", ".nsed")) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"quality-{stamp}.svg"
    shown = [s for s in report.strategies if s.strategy != nsed_all_rounds.__name__]
    title = f"GSM8K, {report.tasks} tasks, simulated team {', '.join(report.team)}"
    svg = render_accuracy_vs_tokens(
        msgspec.to_builtins(shown), per_round=msgspec.to_builtins(report.per_round), title=title
    )
    path.write_text(svg)
    return path
