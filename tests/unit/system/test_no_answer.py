"""A proposal that states no final answer is ``no_answer``: never an answer guessed from its
text, never an option to vote on, a generation miss in stats; its author still reviews."""

from __future__ import annotations

import msgspec

from schemas.base import Usage
from schemas.propose import ProposeRequested
from schemas.review import ReviewRequested
from schemas.task import TaskView
from services.agent_runner.backends.base import ProposalDraft, ReviewDraft
from services.agent_runner.config import AgentProfile, OpenAIConfig
from services.agent_runner.handlers import RunnerDeps, on_work
from services.gate.stats import observe
from services.gate.summary import round_notes
from services.reviewer import phases
from services.reviewer.packets import build_packets
from services.voter.options import entries

from ..builders import NOW, agreeing_round, proposal, record, task, team

RAMBLE = "Janet has 16 eggs. She eats 3 and bakes 4, so she sells 9 at $2, which is 18."


class Scripted:
    simulated = False

    def __init__(self, content: str) -> None:
        self.content = content

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        return ProposalDraft(self.content, None, input_tokens=10, output_tokens=5, latency_s=0.1)

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        raise AssertionError("not asked")

    async def aclose(self) -> None:
        return None


def request(answer_format: str = "integer") -> ProposeRequested:
    return ProposeRequested(
        task_id="t1",
        round=1,
        message_id="t1:1:propose:0",
        seat=0,
        agent_id="real",
        task=TaskView(task_id="t1", prompt="How much?", answer_format=answer_format),  # type: ignore[arg-type]
        deadline=NOW + 60,
    )


async def propose(content: str, answer_format: str = "integer") -> object:
    profile = AgentProfile(
        id="real",
        model="m",
        family="f",
        backend="openai",
        openai=OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="m"),
    )
    deps = RunnerDeps(
        profile=profile, instance_id="i1", backend=Scripted(content), clock=lambda: NOW
    )
    out = await on_work(request(answer_format), deps)
    assert out is not None
    return out


async def test_a_proposal_without_a_final_answer_is_no_answer_with_what_was_missing() -> None:
    out = await propose(RAMBLE)
    assert msgspec.structs.asdict(out)["status"] == "no_answer"  # type: ignore[arg-type]
    assert out.extracted_answer is None  # type: ignore[attr-defined]
    assert "\\boxed{N}" in out.error  # type: ignore[attr-defined]
    assert out.content == RAMBLE  # type: ignore[attr-defined]
    assert out.usage == Usage(input_tokens=10, output_tokens=5, calls=1)  # type: ignore[attr-defined]


async def test_a_proposal_with_a_final_answer_is_ok() -> None:
    out = await propose(RAMBLE + "\nFinal answer: \\boxed{18}")
    assert (out.status, out.extracted_answer, out.error) == ("ok", "18", None)  # type: ignore[attr-defined]


async def test_an_empty_proposal_is_still_an_error() -> None:
    out = await propose("  \n")
    assert (out.status, out.error) == ("error", "empty answer")  # type: ignore[attr-defined]


def test_the_author_of_a_no_answer_proposal_reviews_but_is_not_reviewed() -> None:
    props = [
        proposal(0, "18"),
        proposal(1, None, status="no_answer", content=RAMBLE),
        proposal(2, "17"),
    ]
    packets = build_packets("t1", 1, props)
    assert set(packets) == {0, 1, 2}
    assert sorted(packets[1].values()) == sorted([props[0].proposal_id, props[2].proposal_id])
    assert all(props[1].proposal_id not in p.values() for p in packets.values())


def test_a_no_answer_author_with_nothing_to_review_gets_an_absent_ballot_saying_so() -> None:
    rec = record(
        proposals=[proposal(0, None, status="no_answer", content=RAMBLE), proposal(1, "18")],
        seats=team("agent0", "agent1"),
    )
    opened = phases.open_review(rec, NOW).current
    assert list(opened.packets) == [0]  # it reviews the one ok proposal
    [absent] = opened.ballots
    assert (absent.seat, absent.notes) == (1, ("no other ok proposal to review",))
    alone = record(
        proposals=[proposal(0, None, status="no_answer", content=RAMBLE)],
        seats=team("agent0"),
    )
    [absent] = phases.open_review(alone, NOW).current.ballots
    assert absent.notes == ("no other ok proposal to review",)


def test_a_no_answer_proposal_is_no_option_to_vote_on() -> None:
    rec = agreeing_round(["18", "17", "18"], {0: {1: -50, 2: 30}, 1: {0: 80}, 2: {0: 90}})
    cur = rec.current
    props = list(cur.proposals)
    props[1] = msgspec.structs.replace(
        props[1], status="no_answer", extracted_answer=None, content=RAMBLE
    )
    rec = msgspec.structs.replace(rec, current=msgspec.structs.replace(cur, proposals=props))
    assert [e.proposal_id for e in entries(rec)] == [props[0].proposal_id, props[2].proposal_id]


def test_a_no_answer_proposal_is_a_generation_miss_and_no_error() -> None:
    weights = {0: {2: 30}, 1: {0: 80, 2: 20}, 2: {0: 90}}
    rec = agreeing_round(["18", "17", "18"], weights, the_task=task(reference="18"))
    cur = rec.current
    props = list(cur.proposals)
    props[1] = msgspec.structs.replace(
        props[1], status="no_answer", extracted_answer=None, content=RAMBLE
    )
    rec = msgspec.structs.replace(rec, current=msgspec.structs.replace(cur, proposals=props))
    by_agent = {o.agent_id: o for o in observe(rec)}
    missed = by_agent["agent1"]
    assert (missed.ok, missed.errors, missed.gen_trial, missed.gen_hit) == (0, 0, 1, 0)
    assert missed.reviews_valid == 1  # it still reviewed
    assert (by_agent["agent0"].gen_trial, by_agent["agent0"].gen_hit) == (1, 1)
    notes, degraded = round_notes(msgspec.structs.replace(rec.current, tally=None))
    assert notes == [f"seat 1 (agent1) no_answer: {props[1].error or 'no reason'}"]
    assert not degraded  # a model that answered without an answer is no fault of the round
