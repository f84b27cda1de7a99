"""The broker's task intake at its edges: a task no team can serve, a task id reused by
another task, a task sent again or without an id, rejected and malformed tasks, a continued
round without a record, misspelt policy fields, and whether simulated agents sit."""

from __future__ import annotations

import msgspec
import pytest

from schemas.dlq import DeadLetter
from schemas.gate import DeliberationConcluded, RoundContinued
from schemas.propose import ConsensusState
from schemas.task import TaskRefused, TaskSubmitted
from schemas.team import TeamSelected
from services._runtime.errors import Rejected
from services.broker import handlers as broker
from services.core import ids
from services.inmemory import InMemoryServices

from ..builders import NOW, card
from ..opened_task import task, timer


async def test_a_task_no_team_can_serve_fails_at_once_with_the_reason(
    inmem: InMemoryServices,
) -> None:
    inmem.registry.clear()
    out = await inmem.handle(task())
    [result] = out
    assert isinstance(result, DeliberationConcluded)
    assert (result.status, result.stop_reason) == ("failed", "no_team")
    assert result.detail.startswith("0 live agents")
    assert result.message_id == ids.result("h-1")
    assert inmem.store.records["h-1"].done
    assert await inmem.handle(task()) == [result]


async def test_a_task_id_reused_by_another_task_is_refused_and_dead_lettered(
    inmem: InMemoryServices,
) -> None:
    await inmem.handle(task())
    before = inmem.store.records["h-1"]
    other = msgspec.structs.replace(task(), prompt="Something else")
    refused, letter = await inmem.handle(other, seq=9)
    assert isinstance(refused, TaskRefused)
    assert refused.task_id == "h-1"
    assert "already used by another task" in refused.reason
    assert isinstance(letter, DeadLetter)
    assert (letter.service, letter.stream_seq, letter.error) == ("broker", 9, refused.reason)
    assert inmem.store.records["h-1"] == before  # the task that holds the id is untouched


async def test_the_same_task_sent_again_after_it_ended_gets_its_result_again(
    inmem: InMemoryServices,
) -> None:
    inmem.registry.clear()  # no team: the task ends at once with a result
    [first] = await inmem.handle(task(), seq=1)
    resent = msgspec.structs.replace(task(), submitted_at=123.0)  # sent again, later
    [again] = await inmem.handle(resent, seq=2)
    assert isinstance(again, DeliberationConcluded)
    assert again.message_id == ids.result_again("h-1", 2) != first.message_id
    assert msgspec.structs.replace(again, message_id=first.message_id) == first


async def test_a_task_without_an_id_gets_one_that_is_stable_on_redelivery(
    inmem: InMemoryServices,
) -> None:
    payload = b'{"prompt": "What is 6 times 7?"}'
    anonymous = task(None)
    first = await inmem.handle(anonymous, payload=payload, seq=41)
    again = await inmem.handle(anonymous, payload=payload, seq=41)
    assert first == again
    task_id = first[0].task_id
    assert task_id.startswith("t41-")
    assert list(inmem.store.records) == [task_id]


async def test_a_rejected_task_with_a_readable_id_still_gets_a_failed_result(
    inmem: InMemoryServices,
) -> None:
    payload = b'{"task_id": "bad-1", "prompt": "p", "policy": {"team_size": 0}}'
    result = await broker.reject_task(payload, Rejected("team_size >= 1"), inmem.broker)
    assert isinstance(result, DeliberationConcluded)
    assert (result.task_id, result.status, result.stop_reason) == ("bad-1", "failed", "error")
    assert "team_size" in result.detail
    # never the id a real result of that task would carry
    assert result.message_id != ids.result("bad-1")
    assert await broker.reject_task(b'{"task_id": "a b"}', Rejected("x"), inmem.broker) is None
    assert await broker.reject_task(b"\xff", Rejected("x"), inmem.broker) is None


async def test_a_malformed_task_reusing_a_running_tasks_id_gets_no_result(
    inmem: InMemoryServices,
) -> None:
    await inmem.handle(task())
    payload = b'{"task_id": "h-1", "prompt": "p", "policy": {"team_size": 0}}'
    assert await broker.reject_task(payload, Rejected("team_size >= 1"), inmem.broker) is None
    assert inmem.store.records["h-1"].result is None


async def test_a_continued_round_without_a_record_is_rejected(inmem: InMemoryServices) -> None:
    msg = RoundContinued(
        task_id="nope", round=1, message_id="m", next_round=2, state=ConsensusState()
    )
    with pytest.raises(Rejected):
        await inmem.handle(msg)


async def test_a_misspelt_policy_field_is_reported_on_the_team_and_the_result(
    inmem: InMemoryServices,
) -> None:
    sent = msgspec.json.encode(task(deadline_s=60.0))
    raw = msgspec.json.decode(sent)
    raw["policy"]["max_round"] = 2  # the broker decodes it as the default max_rounds
    payload = msgspec.json.encode(raw)
    out = await inmem.handle(msgspec.json.decode(payload, type=TaskSubmitted), payload=payload)
    [team] = [m for m in out if isinstance(m, TeamSelected)]
    expected = ("unknown field 'policy.max_round' ignored (did you mean 'policy.max_rounds'?)",)
    assert team.warnings == expected
    inmem.clock.now = NOW + 60
    [result] = await inmem.handle(timer("h-1", 0, "task", owner="gate"))
    assert result.warnings == expected
    # A task no team can serve says it too, and a task as the schema has it says nothing.
    inmem.registry.clear()
    [failed] = await inmem.handle(task("h-2"), payload=payload.replace(b"h-1", b"h-2"))
    assert (failed.stop_reason, failed.warnings) == ("no_team", expected)
    [clean] = await inmem.handle(task("h-3"), payload=msgspec.json.encode(task("h-3")))
    assert clean.warnings == ()


async def test_the_team_says_whether_simulated_agents_hold_its_seats(
    inmem: InMemoryServices,
) -> None:
    out = await inmem.handle(task("h-1"))
    [team] = [m for m in out if isinstance(m, TeamSelected)]
    assert team.simulated  # the unit pool's cards are backend "sim"
    inmem.registry.clear()
    for agent_id in ("alpha", "bravo", "charlie"):
        inmem.registry.put(
            f"{agent_id}.i1", msgspec.structs.replace(card(agent_id), backend="openai")
        )
    out = await inmem.handle(task("h-2"))
    [team] = [m for m in out if isinstance(m, TeamSelected)]
    assert not team.simulated
