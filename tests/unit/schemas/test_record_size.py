"""The deliberation record always fits one NATS message (schemas/limits.py): the largest
record the message bounds and the services' own rules admit encodes under the server's
``max_payload``, for every protocol, at its largest team and its most rounds, whatever the
text is made of. And every wire message is bounded: no string, list or dict without a limit.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas import limits
from schemas.record import DeliberationRecord
from schemas.subjects import FLOW
from schemas.task import TaskSubmitted
from schemas.team import AgentCard

from ..largest import COSTLIEST, Ascii, Size, largest

SERVER_CONF = Path(__file__).resolve().parents[3] / "infra" / "nats" / "nats-server.conf"
PROTOCOLS = ("nsed", "moa", "debate", "vote")
# The longest note a round's summary carries: "seat 31 (<agent id>) error: <error>".
ERROR_NOTE_CHARS = len("seat 31 () no_answer: ") + limits.LABEL_CHARS + limits.ERROR_CHARS
# Its other notes: a seat that did not propose or review in time, the quorum.
SHORT_NOTE_CHARS = len("seat 31 () did not propose in time") + limits.LABEL_CHARS


def seats_of(protocol: str) -> int:
    return limits.MAX_TEAM if protocol == "vote" else limits.MAX_READING_TEAM


def rounds_of(protocol: str) -> int:
    """Summaries a record may hold: vote stops after one round; moa's aggregator round
    comes after its last layer."""
    return {"vote": 1, "moa": limits.MAX_ROUND_NUMBER}.get(protocol, limits.MAX_ROUNDS)


def record_sizes(protocol: str, n: int, rounds: int) -> dict[str, Size]:
    """What the services write into a record of ``n`` seats and ``rounds`` rounds, where the
    record's own types do not bound it (or bound it more loosely)."""
    reviewed = protocol == "nsed"
    # The consensus state: nsed's forget gate packs at most STATE_ITEMS items into the
    # budget (texts; each item also names its answer and source); the other protocols
    # carry the round's ok proposals in full, masked and cut to STATE_ITEM_CHARS.
    items = limits.STATE_ITEMS if reviewed else n
    item_chars = (
        math.ceil(limits.STATE_TOKENS * limits.CHARS_PER_TOKEN / items)
        if reviewed
        else limits.STATE_ITEM_CHARS
    )
    # A seat's feedback lines fit the feedback budget (their fences counted too).
    feedback_lines = math.ceil(
        limits.FEEDBACK_TOKENS * limits.CHARS_PER_TOKEN / limits.FEEDBACK_LINE_CHARS
    )
    # A round's notes: at most one per seat quotes an error (its failed proposal), the
    # others are a line of fixed words (timeouts, the quorum); counted at their average.
    round_notes = 2 * n + 1
    round_note_chars = math.ceil((n * ERROR_NOTE_CHARS + (n + 1) * SHORT_NOTE_CHARS) / round_notes)
    per_summary: dict[str, Size] = {
        "scores": n, "usage": n, "notes": round_notes, "notes[]": round_note_chars,
    }  # fmt: skip
    sizes: dict[str, Size] = {
        "$.task_id": 64,
        "$.traceparent": Ascii(55),  # W3C traceparent, made or re-formatted here
        "$.client_traceparent": Ascii(55),
        "$.warnings": limits.WARNINGS,
        "$.warnings[]": limits.WARNING_CHARS,
        # Policy lists name seats' agents and roles: no more than the seats.
        "$.task.policy.roles": n,
        "$.task.policy.role_instructions": n,
        "$.task.policy.pinned_agents": n,
        "$.task.policy.team": n,
        # One seat each, one proposal per seat (a second is ignored), whose reasoning the
        # reviewer cuts to an excerpt (ReviewerSettings.reasoning_excerpt_tokens).
        "$.current.team": n,
        "$.current.proposals": n,
        "$.current.proposals[].reasoning": limits.EXCERPT_CHARS,
        "$.current.timed_out": n,
        # Packets: every seat reviews the others (labels are "Candidate_A"…).
        "$.current.packets": n if reviewed else 0,
        "$.current.packets{}": n - 1,
        "$.current.packets{}{key}": Ascii(len("Candidate_ZZ")),
        "$.current.packets{}{}": limits.ID_CHARS,
        # One ballot a seat; without review, the absent ballot and its one note.
        "$.current.ballots": n,
        "$.current.ballots[].weights": n - 1 if reviewed else 0,
        "$.current.ballots[].critiques": n - 1 if reviewed else 0,
        "$.current.ballots[].claims": (n - 1) * limits.CLAIMS_PER_ENTRY if reviewed else 0,
        "$.current.ballots[].notes": n + 2 if reviewed else 1,
        "$.current.usage": n,
        "$.current.usage{key}": Ascii(64),
        # The tally: options partition the ok proposals (worst: one each). The record keeps
        # it without the ballots it is published with (they are in ``current.ballots``).
        "$.current.tally.ballots": 0,
        "$.current.tally.scores": n,
        "$.current.tally.votes": n if reviewed else 0,
        "$.current.tally.votes{}": n - 1,
        "$.current.tally.options": n,
        "$.current.tally.options[].proposals": 1,
        "$.current.tally.abstained": n,
        "$.team_selected.seats": n,
        "$.state.items": items,
        "$.state.items[].text": item_chars,
        "$.continued.state.items": items,
        "$.continued.state.items[].text": item_chars,
        "$.feedback": n if reviewed else 0,
        "$.feedback{}": feedback_lines,
        "$.feedback{}[]": limits.FEEDBACK_LINE_CHARS,
        "$.previous_answers": n if rounds > 1 else 0,
        "$.previous_answers{}": limits.ANSWER_CHARS,
        "$.summaries": rounds,
        "$.result.summaries": rounds,
        # Every agent seated in any round; calls closed out unanswered (a proposal and a
        # review per seat and round; ids of our own making).
        "$.usage": n * rounds,
        "$.usage{key}": Ascii(64),
        "$.unpaid_calls": 2 * n * rounds,
        "$.unpaid_calls[]": Ascii(64 + len(":21:review_request:31")),
        # The winner is kept without its reasoning (services/gate/rounds.py).
        "$.last_winner.reasoning": None,
        "$.last_leader.reasoning": None,
        "$.result.team": n,
        "$.result.selection.seats": n,
        "$.result.usage": n * rounds,
    }
    for where in ("$.summaries[]", "$.result.summaries[]"):
        sizes.update({f"{where}.{key}": size for key, size in per_summary.items()})
    if rounds == 1:
        sizes["$.continued"] = None  # only a round that continued leaves one
    return sizes


def record_bytes(protocol: str, n: int, rounds: int, alphabet: str = COSTLIEST) -> int:
    built = largest(DeliberationRecord, alphabet, record_sizes(protocol, n, rounds))
    return len(msgspec.json.encode(built))


def server_max_payload() -> int:
    found = re.search(r"^max_payload:\s*(\d+)\s*MB\s*$", SERVER_CONF.read_text(), re.MULTILINE)
    assert found is not None, f"no max_payload in {SERVER_CONF}"
    return int(found.group(1)) * 1024 * 1024


def test_the_record_budget_is_the_servers_max_payload() -> None:
    assert server_max_payload() == limits.RECORD_BUDGET_BYTES


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_largest_record_of_each_protocol_fits_one_nats_message(protocol: str) -> None:
    size = record_bytes(protocol, seats_of(protocol), rounds_of(protocol))
    print(f"{protocol}: {size / 2**20:.2f} MB of {limits.RECORD_BUDGET_BYTES / 2**20:.0f} MB")
    assert size <= limits.RECORD_BUDGET_BYTES


# Characters of every JSON cost: plain, escaped as two (quote, backslash, newline), as
# six (control characters), and two, three and four bytes of UTF-8.
CHARACTERS = st.sampled_from(["a", '"', "\\", "\n", "\x00", "\x1f", "é", "€", "😀", "\u2028"])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    protocol=st.sampled_from(PROTOCOLS),
    data=st.data(),
    alphabet=st.lists(CHARACTERS, min_size=2, max_size=6, unique=True).map("".join),
)
@example(protocol="nsed", data=None, alphabet=COSTLIEST)
def test_a_record_built_from_max_size_messages_fits_one_nats_message(
    protocol: str, data: Any, alphabet: str
) -> None:
    if data is None:  # the explicit example: the largest team and every round
        n, rounds = seats_of(protocol), rounds_of(protocol)
    else:
        n = data.draw(st.integers(2, seats_of(protocol)), label="seats")
        rounds = data.draw(st.integers(1, rounds_of(protocol)), label="rounds")
    assert record_bytes(protocol, n, rounds, alphabet) <= limits.RECORD_BUDGET_BYTES


# A task at every bound that still passes its own checks (the policy's counts add up).
VALID_TASK: dict[str, Size] = {
    "$.policy.roles": None,
    "$.policy.role_instructions": 0,
    "$.policy.pinned_agents": 0,
    "$.policy.team": limits.MAX_READING_TEAM,
}


@pytest.mark.parametrize(
    "kind", [step.message for step in FLOW] + [AgentCard], ids=lambda t: t.__name__
)
def test_every_wire_message_is_bounded_and_decodes_at_its_bounds(kind: type) -> None:
    """``largest`` raises ``Unbounded`` on a string, list or dict without a limit; what it
    builds, at every limit, is still a valid message."""
    sizes = VALID_TASK if kind is TaskSubmitted else {}
    built = largest(kind, "ab\x00€😀", sizes)
    encoded = msgspec.json.encode(built)
    assert isinstance(msgspec.json.decode(encoded, type=kind), kind)
