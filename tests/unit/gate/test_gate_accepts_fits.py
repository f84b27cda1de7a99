"""The gate accepts any fit the bench prints (issue 12, item 6): the fitted Λ and β, set
as ``NSED_GATE_FATIGUE_LAMBDA`` / ``NSED_GATE_FATIGUE_BETA``, load, and halting decides with
them without raising. β ≤ 0 is no fatigue: T_opt = ∞ (null), and the fatigue stop never
fires."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.record import DeliberationRecord
from services._runtime.settings import load_settings
from services.bench.fit import fit
from services.gate.halting import Decision, FatigueModel, decide, team_model
from services.gate.rounds import close_round
from services.gate.settings import GateSettings
from tests.unit.bench.test_fit import NOISE, ROUNDS, curve
from tests.unit.gate.test_halting import decision

from ..builders import NOW, agreeing_round, tally, task

CONTESTED = {0: {1: -50, 2: 50}, 1: {0: 40, 2: 60}, 2: {0: 90, 1: -10}}

FITS = {
    "fatigue": (ROUNDS, curve(0.8, 0.004, 0.45, 0.8, ROUNDS, NOISE, seed=1), 0.45, 0.8),
    "negative_beta": (ROUNDS, curve(0.3, -0.0015, 0.4, 0.8, ROUNDS, NOISE, seed=2), 0.4, 0.8),
    "saturated": ([1, 2, 3, 4, 5, 6], [0.94, 0.99, 1.0, 1.0, 1.0, 1.0], 0.588, 0.773),
    "constant": ([1, 2, 3], [0.5, 0.5, 0.5], 0.5, 0.8),
    "chance": (ROUNDS, [0.7 - 0.004 * t * t for t in ROUNDS], 0.7, 0.45),
}


def gate_from(printed: dict[str, object]) -> GateSettings:
    """The settings an operator gets by copying the printed fit into the environment."""
    env = {
        "NSED_GATE_FATIGUE_LAMBDA": str(printed["lambda"]),
        "NSED_GATE_FATIGUE_BETA": str(printed["beta"]),
    }
    return load_settings(GateSettings, "gate", env)


def decide_every_round(model: FatigueModel, max_rounds: int = 12) -> list[Decision]:
    evidence = 0.0
    out = []
    for r in range(1, max_rounds + 1):
        evidence += model.gain(r, 0.3)
        out.append(
            decide(
                round_number=r,
                policy=task(max_rounds=max_rounds).policy,
                tally=tally(conviction=0.3),
                model=model,
                evidence=evidence,
                now=NOW,
                deadline_at=NOW + 600,
                round_duration_s=1.0,
            )
        )
    return out


@pytest.mark.parametrize("name", list(FITS))
def test_a_printed_fit_loads_into_the_gate_and_decides(name: str) -> None:
    rounds, acc, p_g, p_v = FITS[name]
    printed = fit(rounds, acc, p_g, p_v).as_json()
    loaded = gate_from(printed)
    assert (loaded.fatigue_lambda, loaded.fatigue_beta) == (printed["lambda"], printed["beta"])
    model = team_model([(p_g, p_v)], loaded.fatigue_lambda, loaded.fatigue_beta)
    decisions = decide_every_round(model)
    assert all(isinstance(d, Decision) for d in decisions)
    t_opt = model.t_opt()
    assert printed["t_opt"] == (None if math.isinf(t_opt) else pytest.approx(t_opt, abs=2e-3))


def test_the_fits_cover_a_negative_beta_and_an_unidentified_one() -> None:
    printed = {name: fit(*args).as_json() for name, args in FITS.items()}
    assert printed["negative_beta"]["beta"] < 0
    assert printed["negative_beta"]["beta_identified"] is True
    assert printed["fatigue"]["beta"] > 0
    assert printed["saturated"]["beta_identified"] is False
    assert printed["chance"]["beta_identified"] is False


def test_a_negative_beta_in_the_gate_is_no_fatigue() -> None:
    loaded = load_settings(GateSettings, "gate", {"NSED_GATE_FATIGUE_BETA": "-0.0015"})
    model = team_model([(0.55, 0.8)], loaded.fatigue_lambda, loaded.fatigue_beta)
    assert model == FatigueModel(p_g=0.55, p_v=0.8, lam=loaded.fatigue_lambda, beta=0.0)
    assert model.t_opt() == math.inf
    assert model.signal() == pytest.approx(1 - 0.55)
    assert all(decision(r, max_rounds=40, model=model).reason != "fatigue" for r in range(1, 40))


def test_a_round_closed_with_a_negative_beta_records_no_peak_and_survives_json() -> None:
    rec = agreeing_round(["42", "41", "42"], CONTESTED, the_task=task(max_rounds=1))
    out = close_round(rec, NOW + 20, GateSettings(fatigue_beta=-0.0015))
    assert out is not None
    assert out.result is not None
    assert out.result.halting is not None
    assert out.result.halting.t_opt is None
    assert out.result.halting.beta == 0.0  # the model the gate ran: β ≤ 0 held as 0
    decoded = msgspec.json.decode(msgspec.json.encode(out), type=DeliberationRecord)
    assert decoded.result == out.result


@given(
    acc=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=10),
    p_g=st.floats(0.0, 1.0),
    p_v=st.floats(0.0, 1.0),
)
@settings(max_examples=100, deadline=None)
def test_any_fit_the_bench_can_print_loads_and_decides(
    acc: list[float], p_g: float, p_v: float
) -> None:
    printed = fit(range(1, len(acc) + 1), acc, p_g, p_v).as_json()
    loaded = gate_from(printed)
    model = team_model([(p_g, p_v)], loaded.fatigue_lambda, loaded.fatigue_beta)
    assert all(isinstance(d, Decision) for d in decide_every_round(model, max_rounds=6))
    assert (printed["t_opt"] is None) == math.isinf(model.t_opt())
