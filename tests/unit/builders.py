"""Hand-built messages and records for the unit tier: no NATS, no clock, no randomness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from schemas import subjects
from schemas.ballot import Ballot, ClaimCheck, Critique
from schemas.base import AnswerFormat, Message, Usage
from schemas.propose import CallStatus, ConsensusState, ProposalSubmitted, ProposeRequested
from schemas.record import DeliberationRecord, Phase, RoundState
from schemas.review import Claim, ReviewEntry, ReviewRequested, ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.task import Policy, TaskSubmitted
from schemas.team import AgentCard, DomainPrior, Seat
from services._runtime.route import Delivery
from services.core import ids
from services.voter.settings import VoterSettings
from services.voter.tally import compute_tally

NOW = 1_000.0
TASK = "task-1"


def card(
    agent_id: str,
    *,
    family: str | None = None,
    instance: str = "i1",
    p_g: float = 0.5,
    p_v: float = 0.6,
    updated_at: float = NOW,
    max_concurrency: int = 2,
    in_flight: int = 0,
    draining: bool = False,
    price: float = 0.0,
    latency_p95_s: float = 2.0,
    model: str | None = None,
) -> AgentCard:
    return AgentCard(
        agent_id=agent_id,
        instance_id=instance,
        model=model or f"{agent_id}-model",
        family=family or agent_id,
        backend="sim",
        domains={"default": DomainPrior(p_g=p_g, p_v=p_v)},
        price_in_per_mtok=price,
        price_out_per_mtok=price,
        max_concurrency=max_concurrency,
        in_flight=in_flight,
        latency_p95_s=latency_p95_s,
        updated_at=updated_at,
        draining=draining,
    )


def team(*agent_ids: str) -> tuple[Seat, ...]:
    return tuple(Seat(seat=i, agent_id=a) for i, a in enumerate(agent_ids))


def task(
    *,
    task_id: str = TASK,
    reference: str | None = None,
    answer_format: AnswerFormat = "integer",
    **policy: Any,
) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=task_id,
        prompt="What is 6 times 7?",
        answer_format=answer_format,
        reference_answer=reference,
        policy=Policy(**policy),
    )


def proposal(
    seat: int,
    answer: str | None,
    *,
    task_id: str = TASK,
    round_number: int = 1,
    agent_id: str | None = None,
    content: str | None = None,
    status: CallStatus = "ok",
    model: str = "",
    cost: float = 0.0,
) -> ProposalSubmitted:
    return ProposalSubmitted(
        task_id=task_id,
        round=round_number,
        message_id=ids.proposal(task_id, round_number, seat),
        proposal_id=ids.proposal_ref(task_id, round_number, seat),
        seat=seat,
        agent_id=agent_id or f"agent{seat}",
        model=model,
        content=content
        if content is not None
        else f"Worked it out.\nFinal answer: \\boxed{{{answer}}}",
        extracted_answer=answer,
        status=status,
        usage=Usage(input_tokens=10, output_tokens=5, cost_usd=cost, calls=1),
    )


def ballot(
    seat: int,
    weights: Mapping[str, float],
    *,
    task_id: str = TASK,
    round_number: int = 1,
    agent_id: str | None = None,
    valid: bool = True,
    critiques: Sequence[Critique] = (),
    claims: Sequence[ClaimCheck] = (),
    notes: Sequence[str] = (),
) -> Ballot:
    return Ballot(
        task_id=task_id,
        round=round_number,
        message_id=ids.ballot(task_id, round_number, seat),
        seat=seat,
        agent_id=agent_id or f"agent{seat}",
        valid=valid,
        weights=dict(weights) if valid else {},
        critiques=tuple(critiques),
        claims=tuple(claims),
        notes=tuple(notes),
    )


def record(
    *,
    the_task: TaskSubmitted | None = None,
    round_number: int = 1,
    phase: Phase = "proposing",
    seats: tuple[Seat, ...] | None = None,
    proposals: Sequence[ProposalSubmitted] = (),
    ballots: Sequence[Ballot] = (),
    timed_out: tuple[int, ...] = (),
    deadline_at: float = NOW + 600,
    started_at: float = NOW,
    state: ConsensusState | None = None,
) -> DeliberationRecord:
    the_task = the_task or task()
    assert the_task.task_id is not None
    return DeliberationRecord(
        task_id=the_task.task_id,
        task=the_task,
        created_at=NOW,
        deadline_at=deadline_at,
        phase_timeout_s=30.0,
        current=RoundState(
            number=round_number,
            phase=phase,
            phase_deadline=NOW + 30,
            team=seats if seats is not None else team("agent0", "agent1", "agent2"),
            started_at=started_at,
            proposals=tuple(proposals),
            ballots=tuple(ballots),
            timed_out=timed_out,
        ),
        state=state or ConsensusState(),
        usage={},
    )


def gating(rec: DeliberationRecord, settings: VoterSettings | None = None) -> DeliberationRecord:
    """``rec`` with its tally computed by the voter, ready for the gate."""
    voting = msgspec.structs.replace(rec.current, phase="voting")
    tallied = compute_tally(
        msgspec.structs.replace(rec, current=voting), settings or VoterSettings()
    )
    return msgspec.structs.replace(
        rec, current=msgspec.structs.replace(voting, phase="gating", tally=tallied)
    )


def agreeing_round(
    answers: Sequence[str | None],
    weights: Mapping[int, Mapping[int, float]],
    *,
    critiques: Mapping[int, Sequence[tuple[int, float, str]]] | None = None,
    **record_args: Any,
) -> DeliberationRecord:
    """A gating record: seat i proposed ``answers[i]`` (``None``: an error proposal);
    ``weights[i][j]`` is reviewer i's weight for seat j's proposal; ``critiques[i]`` holds
    reviewer i's critiques as (seat, weight, text)."""
    props = [
        proposal(i, a) if a is not None else proposal(i, None, status="error", content="")
        for i, a in enumerate(answers)
    ]
    critiques = critiques or {}
    ballots = [
        ballot(
            i,
            {props[j].proposal_id: w for j, w in row.items()},
            critiques=[
                Critique(proposal_id=props[j].proposal_id, weight=w, text=text)
                for j, w, text in critiques.get(i, ())
            ],
        )
        for i, row in weights.items()
    ]
    rec = record(
        proposals=props,
        ballots=ballots,
        seats=team(*(f"agent{i}" for i in range(len(answers)))),
        **record_args,
    )
    return gating(rec)


def tally(**fields: Any) -> TallyComputed:
    base: dict[str, Any] = {
        "task_id": TASK,
        "round": 1,
        "message_id": ids.tally(TASK, 1),
        "scores": (),
        "votes": {},
        "winner": "p0",
        "ok_proposals": 3,
        "valid_ballots": 3,
        "quorum_met": True,
    }
    base.update(fields)
    return TallyComputed(**base)


def arrived(msg: Message, seq: int = 1, delivered: int = 1) -> Delivery:
    """How ``msg`` reaches its consumer when its producer published it: on its own subject."""
    payload = msgspec.json.encode(msg)
    return Delivery(subjects.subject_for(msg), seq, delivered, payload)


class Clock:
    """A clock that moves only when a test moves it."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def proposal_for(
    request: ProposeRequested, answer: str, *, status: CallStatus = "ok"
) -> ProposalSubmitted:
    """What an agent runner would send back for ``request``."""
    return ProposalSubmitted(
        task_id=request.task_id,
        round=request.round,
        message_id=ids.proposal(request.task_id, request.round, request.seat),
        proposal_id=ids.proposal_ref(request.task_id, request.round, request.seat),
        seat=request.seat,
        agent_id=request.agent_id,
        model=f"{request.agent_id}-model",
        content=f"I am {request.agent_id}. Six sevens.\nFinal answer: \\boxed{{{answer}}}",
        extracted_answer=answer,
        status=status,
        usage=Usage(input_tokens=100, output_tokens=20, cost_usd=0.001, calls=1),
    )


def review_for(request: ReviewRequested, truth: str) -> ReviewSubmitted:
    """A reviewer that supports candidates ending in ``\\boxed{truth}`` and rejects the rest,
    quoting each candidate's last line."""
    entries = []
    for c in request.candidates:
        right = f"\\boxed{{{truth}}}" in c.content
        last = c.content.strip().splitlines()[-1]
        entries.append(
            ReviewEntry(
                label=c.label,
                weight=80.0 if right else -70.0,
                justification=f"{c.label}: "
                + ("the product checks out" if right else f"the product is {truth}"),
                claims=(Claim(quote=last, verdict="verified" if right else "wrong"),),
            )
        )
    return ReviewSubmitted(
        task_id=request.task_id,
        round=request.round,
        message_id=ids.review(request.task_id, request.round, request.seat),
        seat=request.seat,
        agent_id=request.agent_id,
        entries=tuple(entries),
        usage=Usage(input_tokens=200, output_tokens=30, cost_usd=0.002, calls=1),
    )
