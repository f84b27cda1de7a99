"""Per-agent stats (``nsed_telemetry``): what each closed round says about its
members, folded into running per-domain estimates the broker reads.

Each precision is counted in its own unit. Generation: an ok proposal is a trial, a hit
when it is right (against the reference answer where the task has one, else when it is in
the round's supported winning option); a ``no_answer`` proposal is a trial and a miss (the
model answered the call but stated no answer), never an error. Verification: a valid
ballot that covered a winning and a losing proposal is a trial, worth the share of such
pairs it ordered the way the outcome did (a tie counts half). A ballot that abstained
(the same weight on every option) is such a trial too, worth ½: a reviewer that never
states a preference is measured at chance, and its votes lose their weight (the voter's
``trust``). Without a reference the outcome is the council's
own verdict, so these measure agreement with the council, which the council's majority
also shapes; with a reference they measure being right.

``observe`` is pure: a round as it closed → one ``AgentStats`` update per seated agent.
``StatsStore`` applies them by compare-and-set, one key per ``<domain>.<agent_id>``.
The gate writes stats only when its own compare-and-set closed the round, so a
redelivered tally never counts twice (a crash between the two writes loses one round's
observation, which only delays an estimate).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import msgspec
import structlog

from schemas.record import DeliberationRecord
from schemas.stats import AgentStats
from services._runtime.errors import Retryable
from services._runtime.retry import Outage
from services.core.answers import same_answer

LATENCY_ALPHA = 0.2  # weight of the newest latency in the moving average

Update = Callable[[AgentStats | None], AgentStats]


@dataclass(frozen=True)
class Observation:
    agent_id: str
    seated: int = 0
    ok: int = 0
    errors: int = 0
    timeouts: int = 0
    wins: int = 0
    agreed: int = 0
    net_support: float = 0.0
    gen_trial: int = 0
    gen_hit: int = 0
    ver_trial: int = 0
    ver_hit: float = 0.0
    reviews_valid: int = 0
    reviews_missing: int = 0
    latency_s: float | None = None


def outcome(closing: DeliberationRecord) -> set[str] | None:
    """The proposals the round's outcome counts as right: those matching the reference
    answer where the task has one, else those in the supported winning option. None when
    the round says nothing (no reference, and no supported winner or a single proposal)."""
    cur = closing.current
    tally = cur.tally
    if tally is None:
        return None
    reference = closing.task.reference_answer
    fmt = closing.task.answer_format
    if reference is not None:
        return {
            p.proposal_id
            for p in cur.ok_proposals()
            if same_answer(p.extracted_answer, reference, fmt)
        }
    # A lone proposal is its own plurality (moa's aggregator, a vote of one): agreeing
    # with itself says nothing about the agent.
    if not tally.supported or len(cur.ok_proposals()) < 2:
        return None
    option = next((o for o in tally.options if tally.winner in o.proposals), None)
    return set(option.proposals) if option else ({tally.winner} if tally.winner else set())


def ordering(weights: Mapping[str, float], right: set[str]) -> float | None:
    """The share of (right, wrong) pairs a ballot ordered right-first (ties count half);
    None when it covered no such pair."""
    hits, pairs = 0.0, 0
    for a, wa in weights.items():
        if a not in right:
            continue
        for b, wb in weights.items():
            if b in right:
                continue
            pairs += 1
            hits += 1.0 if wa > wb else 0.5 if wa == wb else 0.0
    return hits / pairs if pairs else None


def observe(closing: DeliberationRecord) -> list[Observation]:
    """What the round being closed (``closing.current``, tallied) says about each member."""
    cur = closing.current
    tally = cur.tally
    if tally is None:
        return []
    fmt = closing.task.answer_format
    support = {s.proposal_id: s.net_support for s in tally.scores}
    right = outcome(closing)
    winner = next((p for p in cur.proposals if p.proposal_id == tally.winner), None)
    out = []
    for seat in cur.team:
        proposal = cur.proposal_of(seat.seat)
        ballot = cur.ballot_of(seat.seat)
        ok = proposal is not None and proposal.status == "ok"
        missed = proposal is not None and proposal.status == "no_answer"
        reviewed = ballot is not None and ballot.valid
        asked = seat.seat in cur.packets
        judged = (ok or missed) and right is not None and proposal is not None
        order = (
            ordering(ballot.weights, right)
            if reviewed and ballot is not None and right is not None
            else None
        )
        out.append(
            Observation(
                agent_id=seat.agent_id,
                seated=1,
                ok=int(ok),
                errors=int(proposal is not None and not (ok or missed)),
                timeouts=int(seat.seat in cur.timed_out),
                wins=int(ok and tally.supported and winner is not None and proposal is winner),
                agreed=int(
                    ok
                    and winner is not None
                    and proposal is not None
                    and same_answer(proposal.extracted_answer, winner.extracted_answer, fmt)
                ),
                net_support=support.get(proposal.proposal_id, 0.0) if ok and proposal else 0.0,
                gen_trial=int(judged),
                gen_hit=int(
                    judged and ok and proposal is not None and proposal.proposal_id in (right or ())
                ),
                ver_trial=int(order is not None),
                ver_hit=order or 0.0,
                reviews_valid=int(reviewed),
                reviews_missing=int(asked and not reviewed),
                latency_s=proposal.latency_s if ok and proposal else None,
            )
        )
    return out


def fold(previous: AgentStats | None, obs: Observation, domain: str, now: float) -> AgentStats:
    base = previous or AgentStats(agent_id=obs.agent_id, domain=domain)
    latency = base.latency_ewma_s
    if obs.latency_s is not None:
        latency = (
            obs.latency_s
            if base.proposals_ok == 0
            else (1 - LATENCY_ALPHA) * latency + LATENCY_ALPHA * obs.latency_s
        )
    return msgspec.structs.replace(
        base,
        rounds=base.rounds + obs.seated,
        proposals_ok=base.proposals_ok + obs.ok,
        errors=base.errors + obs.errors,
        timeouts=base.timeouts + obs.timeouts,
        wins=base.wins + obs.wins,
        agreed=base.agreed + obs.agreed,
        net_support_sum=round(base.net_support_sum + obs.net_support, 9),
        gen_trials=base.gen_trials + obs.gen_trial,
        gen_hits=base.gen_hits + obs.gen_hit,
        ver_trials=base.ver_trials + obs.ver_trial,
        ver_hits=round(base.ver_hits + obs.ver_hit, 9),
        reviews_valid=base.reviews_valid + obs.reviews_valid,
        reviews_missing=base.reviews_missing + obs.reviews_missing,
        latency_ewma_s=round(latency, 6),
        updated_at=now,
    )


def key(domain: str, agent_id: str) -> str:
    return f"{domain}.{agent_id}"


class StatsStore(Protocol):
    async def apply(self, domain: str, agent_id: str, update: Update) -> None: ...

    async def get(self, domain: str, agent_id: str) -> AgentStats | None: ...


class InMemoryStatsStore:
    def __init__(self) -> None:
        self.values: dict[str, AgentStats] = {}

    async def apply(self, domain: str, agent_id: str, update: Update) -> None:
        self.values[key(domain, agent_id)] = update(self.values.get(key(domain, agent_id)))

    async def get(self, domain: str, agent_id: str) -> AgentStats | None:
        return self.values.get(key(domain, agent_id))


class StatsBuffer:
    """Observations gathered in memory and written every ``every_s`` seconds: one
    compare-and-set per (domain, agent) per flush instead of one per round, and none on
    the round's critical path. A crash loses at most the last ``every_s`` of observations,
    which only delays an estimate (the broker starts from the card's priors anyway)."""

    def __init__(self, store: StatsStore, every_s: float = 1.0) -> None:
        self.store = store
        self.every_s = every_s
        self._pending: dict[tuple[str, str], list[tuple[Observation, float]]] = {}
        self._outage = Outage(structlog.get_logger("gate"), "telemetry_failed")

    def add(self, domain: str, observations: list[Observation], now: float) -> None:
        for obs in observations:
            self._pending.setdefault((domain, obs.agent_id), []).append((obs, now))

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (domain, agent_id), items in pending.items():
            try:
                await self.store.apply(domain, agent_id, _folder(items, domain))
            except Retryable as exc:
                # NATS away: kept for the next flush, oldest first. (A write whose answer
                # was lost may then count twice; dropping it would lose it. Either only
                # moves an estimate by one round.)
                key = (domain, agent_id)
                self._pending[key] = items + self._pending.get(key, [])
                self._outage.failed(exc)
            except Exception as exc:  # best effort: never hold up a deliberation
                structlog.get_logger("gate").warning(
                    "telemetry_failed", agent=agent_id, error=repr(exc)
                )
            else:
                self._outage.ok()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
            await self.flush()


def _folder(items: list[tuple[Observation, float]], domain: str) -> Update:
    def update(previous: AgentStats | None) -> AgentStats:
        value = previous
        for obs, now in items:
            value = fold(value, obs, domain, now)
        assert value is not None
        return value

    return update
