"""A corpus of hostile messages for every subject a service consumes, and what each must come to.

Consumes the flow table (which service reads which message on which subject) and the schema
snapshots; emits ``Shot``s (a subject, a payload, the consuming service) and, for each, its
``Fate``: dead-lettered by the service that reads it (undecodable, or well-formed but about no
task, or for another agent), acted on (a task: a result; a work item for the runner's own
agent: the runner answers it, and the reviewer dead-letters the answer, its task being
unknown), or skipped (a work item whose deadline has passed, as the runner skips stale work).

Documents come from Hypothesis over the snapshots (``schema_data``: valid ones with hostile
values, and ones a value off), with a fixed seed. Each is then damaged in cheap, seeded ways
(bytes cut or flipped, its tag swapped, a value replaced): thousands of messages in a few
seconds. Hypothesis also draws on literals of the modules a process has loaded, so the
corpus is the same on every run of one command (``describe`` prints its digest), not across
commands; what each message must come to is computed from the message itself, so no corpus
can make the test flake.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from schemas import subjects
from schemas.ballot import VotingOpened
from schemas.base import TOKEN_PATTERN, Message
from schemas.gate import CancelRequested, RoundContinued
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import TaskSubmitted
from schemas.timers import PhaseDue
from services._runtime.route import Route
from tests.support.schema_data import EXTREMES, documents, load, mutated

SEED = 20261126
SERVICES = ("broker", "agent_runner", "reviewer", "voter", "gate")
AGENTS = ("alpha", "bravo")  # live agents whose work subjects are fuzzed
UNSEATABLE = {"team": ["nobody-1", "nobody-2"]}
LATER = 4e9  # a deadline no run reaches (2096)  # a valid task ends at once: no_team
_TOKEN = re.compile(TOKEN_PATTERN)
_WORK = (ProposeRequested, ReviewRequested)


@dataclass(frozen=True)
class Entry:
    """One subject a service consumes: the message on it and what its route decodes."""

    service: str
    message: type[Message]
    decodes: tuple[type[Message], ...]
    owner: str | None = None  # a timer subject's owner

    def decode(self, payload: bytes) -> Message | None:
        """The message, or None where the route would dead-letter it as undecodable."""
        return _ROUTES[self.decodes].decode(payload)[0]  # type: ignore[no-any-return]


# Every (service, subject) of the flow table that one of the five services consumes.
ENTRIES: tuple[Entry, ...] = (
    Entry("broker", TaskSubmitted, (TaskSubmitted,)),
    Entry("broker", RoundContinued, (RoundContinued,)),
    Entry("agent_runner", ProposeRequested, _WORK),
    Entry("agent_runner", ReviewRequested, _WORK),
    Entry("reviewer", ProposalSubmitted, (ProposalSubmitted,)),
    Entry("reviewer", PhaseDue, (PhaseDue,), owner="reviewer"),
    Entry("voter", ReviewSubmitted, (ReviewSubmitted,)),
    Entry("voter", VotingOpened, (VotingOpened,)),
    Entry("voter", PhaseDue, (PhaseDue,), owner="voter"),
    Entry("gate", TallyComputed, (TallyComputed,)),
    Entry("gate", CancelRequested, (CancelRequested,)),
    Entry("gate", PhaseDue, (PhaseDue,), owner="gate"),
)


async def _unused(message: Any, delivery: Any) -> list[Message]:
    raise AssertionError("the corpus only decodes")


# The services' own edge decoder (services/_runtime/route.py), per kind of route.
_ROUTES = {e.decodes: Route(name="fuzz", consumes=e.decodes, handler=_unused) for e in ENTRIES}


class Fate(Enum):
    DEAD_LETTERED = "dead-lettered by its consumer"
    ANSWERED = "answered by the runner; the answer dead-lettered by its consumer"
    CONCLUDED = "a task: taken, and ended with its result (no_team, unless damage changed that)"
    SKIPPED = "stale work: skipped by the runner"


@dataclass(frozen=True)
class Shot:
    subject: str
    payload: bytes
    entry: Entry
    how: str  # which damage made it
    fate: Fate
    task_id: str | None = None  # a valid task's id


def corpus(now: float, valid: int = 20, off: int = 8) -> list[Shot]:
    """``valid`` valid and ``off`` one-value-off documents per entry, each sent as it is
    and damaged in each of ``DAMAGES``' ways, plus random bytes for every entry."""
    rng = random.Random(SEED)
    shots: list[Shot] = []
    for index, entry in enumerate(ENTRIES):
        schema = load(entry.message.__name__)
        docs = _draw(documents(schema), valid) + _draw(mutated(schema), off)
        for number, doc in enumerate(docs):
            for variant, damage in enumerate(DAMAGES):
                aimed = _aimed(doc, entry, f"{index}-{number}-{variant}", now)
                how, damaged = damage(aimed, rng)
                shots.append(_shot(entry, damaged, how, now))
        for _ in range(off):
            shots.append(_shot(entry, rng.randbytes(rng.randrange(0, 200)), "random bytes", now))
    return shots


def expected(shots: Sequence[Shot]) -> Counter[str]:
    """Dead letters each service must hold once every shot is handled."""
    letters: Counter[str] = Counter()
    for shot in shots:
        if shot.fate is Fate.DEAD_LETTERED:
            letters[shot.entry.service] += 1
        elif shot.fate is Fate.ANSWERED:  # a proposal (the reviewer's) or a review (the voter's)
            letters["reviewer" if shot.entry.message is ProposeRequested else "voter"] += 1
    return letters


def _draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` documents, the same on every run (the seed is fixed)."""
    found: list[Any] = []

    @seed(SEED)
    @settings(max_examples=count, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(document: Any) -> None:
        found.append(document)

    collect()
    return found


def _as_drawn(doc: Any, rng: random.Random) -> tuple[str, Any]:
    return "as drawn", doc


def _tag_swapped(doc: Any, rng: random.Random) -> tuple[str, Any]:
    if not isinstance(doc, dict):
        return "as drawn", doc
    return "tag swapped", {**doc, "type": rng.choice(TAGS)}


def _cut_short(doc: Any, rng: random.Random) -> tuple[str, Any]:
    text = json.dumps(doc).encode()
    return "cut short", text[: rng.randrange(0, max(len(text), 1))]


def _bytes_flipped(doc: Any, rng: random.Random) -> tuple[str, Any]:
    raw = bytearray(json.dumps(doc, ensure_ascii=False).encode())
    for _ in range(rng.randrange(1, 4)):
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    return "bytes flipped", bytes(raw)


def _value_replaced(doc: Any, rng: random.Random) -> tuple[str, Any]:
    if not isinstance(doc, dict) or not doc:
        return "as drawn", doc
    key = rng.choice(sorted(doc))
    value = rng.choice([*EXTREMES, None, [], {}, "", "x" * 9_000, True, "1", [{}], -1])
    return f"{key} replaced", {**doc, key: value}


Damage = Callable[[Any, random.Random], tuple[str, Any]]
DAMAGES: tuple[Damage, ...] = (
    _as_drawn, _tag_swapped, _cut_short, _bytes_flipped, _bytes_flipped, _value_replaced,
    _value_replaced,
)  # fmt: skip


TAGS = ("", "task.submitted", "proposal.submitted", "review.submitted", "voting.opened",
        "tally.computed", "phase.due", "propose.requested", "round.continued", "no.such.tag",
        "PROPOSAL.SUBMITTED", "proposal.submitted ")  # fmt: skip


def _aimed(doc: Any, entry: Entry, name: str, now: float) -> Any:
    """A valid document pointed where its fate is certain: a task id no task has (a valid
    task's its own, fuzz-owned id, and a team no pool can seat), a work deadline well clear
    of the run."""
    if not isinstance(doc, dict):
        return doc
    if entry.message is TaskSubmitted:
        policy = doc.get("policy")
        unseatable = UNSEATABLE if isinstance(policy, dict) else policy
        return {**doc, "task_id": f"fzt-{name}", "policy": unseatable}
    out = {**doc, "task_id": f"fzx-{name}"} if isinstance(doc.get("task_id"), str) else doc
    if entry.service == "agent_runner" and isinstance(out.get("agent_id"), str):
        # Half the work for a live agent's own runner (which answers it), half misaddressed.
        out = {**out, "agent_id": AGENTS[len(name) % len(AGENTS)]}
    deadline = out.get("deadline")
    if isinstance(deadline, (int, float)) and abs(deadline - now) < 3600:
        # A fixed value, not one from the clock: the corpus is the same bytes on every run.
        out = {**out, "deadline": LATER}
    return out


def _shot(entry: Entry, doc: Any, how: str, now: float) -> Shot:
    payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    body = doc if isinstance(doc, dict) else {}
    task = body.get("task_id")
    fill = {
        "task_id": task if isinstance(task, str) and _TOKEN.fullmatch(task) else "fzx-bad",
        "agent_id": AGENTS[len(payload) % len(AGENTS)],  # for work: its body's, or not
        "owner": entry.owner or "",
    }
    subject = _subject(entry.message, fill)
    fate, task_id = _fate(entry, payload, subject, now)
    return Shot(subject, payload, entry, how, fate, task_id)


def _subject(message: type[Message], fill: dict[str, str]) -> str:
    template = subjects.step_of(message).subject
    return re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], template)


def _fate(entry: Entry, payload: bytes, subject: str, now: float) -> tuple[Fate, str | None]:
    decoded = entry.decode(payload)
    if decoded is None:
        return Fate.DEAD_LETTERED, None
    if isinstance(decoded, TaskSubmitted):
        return Fate.CONCLUDED, decoded.task_id
    if isinstance(decoded, (ProposeRequested, ReviewRequested)):
        if decoded.agent_id != subject.split(".")[2]:
            return Fate.DEAD_LETTERED, None  # work for another agent
        return (Fate.SKIPPED if decoded.deadline < now else Fate.ANSWERED), None
    return Fate.DEAD_LETTERED, None  # well-formed, about a task that has no record


def describe(shots: Sequence[Shot]) -> str:
    """What the corpus holds, and its digest (the same on every run and machine)."""
    by: Counter[tuple[str, str]] = Counter((s.entry.service, s.fate.name) for s in shots)
    digest = hashlib.sha256(b"".join(s.subject.encode() + s.payload for s in shots))
    counts = ", ".join(f"{service}/{fate}: {n}" for (service, fate), n in sorted(by.items()))
    return f"{counts}; sha256 {digest.hexdigest()[:16]}"
