"""Per-agent telemetry (§3 ``nsed_telemetry``): what each closed round says about its
members, folded into running per-domain estimates the broker reads.

``observe`` is pure: a round as it closed → one ``AgentTelemetry`` update per seated agent.
``TelemetryStore`` applies them by compare-and-set, one key per ``<domain>.<agent_id>``.
The gate writes telemetry only when its own compare-and-set closed the round, so a
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
from schemas.telemetry import AgentTelemetry
from services.core.answers import same_answer

LATENCY_ALPHA = 0.2  # weight of the newest latency in the moving average

Update = Callable[[AgentTelemetry | None], AgentTelemetry]


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
    judged: int = 0
    standing: float = 0.0
    reviews_valid: int = 0
    reviews_missing: int = 0
    latency_s: float | None = None


def observe(closing: DeliberationRecord) -> list[Observation]:
    """What the round being closed (``closing.current``, tallied) says about each member."""
    cur = closing.current
    tally = cur.tally
    if tally is None:
        return []
    fmt = closing.task.answer_format
    support = {s.proposal_id: s.net_support for s in tally.scores}
    standing = peer_standing(tally.votes, [s.proposal_id for s in tally.scores])
    winner = next((p for p in cur.proposals if p.proposal_id == tally.winner), None)
    out = []
    for seat in cur.team:
        proposal = cur.proposal_of(seat.seat)
        ballot = cur.ballot_of(seat.seat)
        ok = proposal is not None and proposal.status == "ok"
        reviewed = ballot is not None and ballot.valid
        asked = seat.seat in cur.packets
        out.append(
            Observation(
                agent_id=seat.agent_id,
                seated=1,
                ok=int(ok),
                errors=int(proposal is not None and not ok),
                timeouts=int(seat.seat in cur.timed_out),
                wins=int(ok and winner is not None and proposal is winner),
                agreed=int(
                    ok
                    and winner is not None
                    and proposal is not None
                    and same_answer(proposal.extracted_answer, winner.extracted_answer, fmt)
                ),
                net_support=support.get(proposal.proposal_id, 0.0) if ok and proposal else 0.0,
                judged=int(ok and proposal is not None and proposal.proposal_id in standing),
                standing=standing.get(proposal.proposal_id, 0.0) if ok and proposal else 0.0,
                reviews_valid=int(reviewed),
                reviews_missing=int(asked and not reviewed),
                latency_s=proposal.latency_s if ok and proposal else None,
            )
        )
    return out


def peer_standing(
    votes: Mapping[int, Mapping[str, float]], proposals: list[str]
) -> dict[str, float]:
    """min(1, share·k/2) for each proposal some valid ballot covered, where share is its part
    of all positive votes of the round and k the number of proposals: relative to its peers,
    so two agents that back each other's shared mistake do not both look strong."""
    k = len(proposals)
    covered = {pid for row in votes.values() for pid in row}
    positive = {
        pid: sum(max(row.get(pid, 0.0), 0.0) for row in votes.values()) for pid in proposals
    }
    total = sum(positive.values())
    if k < 2 or not covered:
        return {}
    if total <= 0:
        return dict.fromkeys(covered, 0.0)
    return {pid: min(1.0, positive[pid] / total * k / 2) for pid in covered}


def fold(
    previous: AgentTelemetry | None, obs: Observation, domain: str, now: float
) -> AgentTelemetry:
    base = previous or AgentTelemetry(agent_id=obs.agent_id, domain=domain)
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
        judged=base.judged + obs.judged,
        standing_sum=round(base.standing_sum + obs.standing, 9),
        reviews_valid=base.reviews_valid + obs.reviews_valid,
        reviews_missing=base.reviews_missing + obs.reviews_missing,
        latency_ewma_s=round(latency, 6),
        updated_at=now,
    )


def key(domain: str, agent_id: str) -> str:
    return f"{domain}.{agent_id}"


class TelemetryStore(Protocol):
    async def apply(self, domain: str, agent_id: str, update: Update) -> None: ...

    async def get(self, domain: str, agent_id: str) -> AgentTelemetry | None: ...


class InMemoryTelemetryStore:
    def __init__(self) -> None:
        self.values: dict[str, AgentTelemetry] = {}

    async def apply(self, domain: str, agent_id: str, update: Update) -> None:
        self.values[key(domain, agent_id)] = update(self.values.get(key(domain, agent_id)))

    async def get(self, domain: str, agent_id: str) -> AgentTelemetry | None:
        return self.values.get(key(domain, agent_id))


class TelemetryBuffer:
    """Observations gathered in memory and written every ``every_s`` seconds: one
    compare-and-set per (domain, agent) per flush instead of one per round, and none on
    the round's critical path. A crash loses at most the last ``every_s`` of observations,
    which only delays an estimate (the broker starts from the card's priors anyway)."""

    def __init__(self, store: TelemetryStore, every_s: float = 1.0) -> None:
        self.store = store
        self.every_s = every_s
        self._pending: dict[tuple[str, str], list[tuple[Observation, float]]] = {}

    def add(self, domain: str, observations: list[Observation], now: float) -> None:
        for obs in observations:
            self._pending.setdefault((domain, obs.agent_id), []).append((obs, now))

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (domain, agent_id), items in pending.items():
            try:
                await self.store.apply(domain, agent_id, _folder(items, domain))
            except Exception as exc:  # best effort: never hold up a deliberation
                structlog.get_logger("gate").warning(
                    "telemetry_failed", agent=agent_id, error=repr(exc)
                )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
            await self.flush()


def _folder(items: list[tuple[Observation, float]], domain: str) -> Update:
    def update(previous: AgentTelemetry | None) -> AgentTelemetry:
        value = previous
        for obs, now in items:
            value = fold(value, obs, domain, now)
        assert value is not None
        return value

    return update
