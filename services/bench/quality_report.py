"""The report of ``nsed bench quality``, typed: what ``quality.run`` returns and ``--json``
prints (``msgspec.to_builtins``), key for key in the order earlier versions printed.

A strategy's row, the accuracy after each round of the forced run, the three classic
baselines' accuracies, how nsed halted, and the efficiency–fatigue fit with the team's
mean precisions. Numbers are rounded where they are made (``study``, ``fit``), not here.
"""

from __future__ import annotations

import msgspec

from schemas.base import Struct


class StrategyRow(Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One strategy's batch: accuracy (with its standard error) at its measured cost."""

    strategy: str
    accuracy: float
    stderr: float
    tokens_per_task: float
    calls_per_task: float
    rounds_per_task: float
    samples: int | None = None  # the equal-token baselines' samples per task, else absent


class RoundRow(Struct, frozen=True, kw_only=True):
    """The run forced to every round: its leading answer's accuracy after ``round``."""

    round: int
    accuracy: float
    prompt_tokens_per_call: float
    tokens_per_task: float  # spent up to and including this round


class Baselines(Struct, frozen=True, kw_only=True):
    majority: float
    best_single: float
    self_moa: float


class Halted(Struct, frozen=True, kw_only=True):
    """nsed under its halting rule."""

    accuracy: float
    mean_rounds: float
    stop_reasons: dict[str, int]


class FitReport(Struct, frozen=True, kw_only=True):
    """``fit.Fit.as_json`` and the team's mean precisions it was fitted with."""

    lam: float = msgspec.field(name="lambda")
    beta: float
    r2: float | None
    rmse: float
    t_opt: float | None
    beta_se: float | None
    beta_identified: bool
    unsaturated_rounds: int
    note: str
    p_g: float
    p_v: float


class Machine(Struct, frozen=True, kw_only=True):
    python: str
    platform: str
    cpus: int | None


class QualityReport(Struct, frozen=True, kw_only=True):
    suite: str = "quality"
    tasks: int
    dataset: str = "gsm8k test (first N problems)"
    simulated: bool = True
    pool: str  # the pool file's name
    team: tuple[str, ...]
    team_size: int
    rounds: int
    strategies: tuple[StrategyRow, ...]
    per_round: tuple[RoundRow, ...]
    baselines: Baselines
    baseline_agent: str  # the team's best member in ``majority``'s first round
    equal_token_samples: int
    halted: Halted
    fit: FitReport
    cost_usd: float  # of the forced run, as are the next two
    cost_per_task_usd: float
    tokens_per_task: float
    elapsed_s: float
    rounds_per_s: float
    machine: Machine
    plot: str = ""  # the accuracy-versus-tokens SVG's path
