"""The runner never publishes what the bounds refuse: a model's over-long output is cut to them,
its end (the final answer) kept, and the message's notes and one log line say what was cut."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import LogCapture

from schemas import limits
from schemas.propose import ProposalSubmitted, ProposeRequested
from schemas.review import Claim, ReviewEntry, ReviewRequested, ReviewSubmitted
from services.agent_runner import bounds, handlers
from services.agent_runner.backends.base import BackendError, ProposalDraft, ReviewDraft
from services.agent_runner.config import AgentProfile, OpenAIConfig
from tests.unit.system.test_no_answer import request

from ..builders import NOW

PROFILE = AgentProfile(
    id="real",
    model="m",
    family="f",
    backend="openai",
    openai=OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="m"),
)
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=3 * limits.CONTENT_CHARS)


class Scripted:
    """A backend that answers with what the test gives it (or fails with it)."""

    simulated = False

    def __init__(self, proposal: ProposalDraft | None = None, review: Any = None) -> None:
        self.proposal = proposal
        self.review_draft = review

    async def propose(self, request: ProposeRequested) -> ProposalDraft:
        if self.proposal is None:
            raise BackendError("upstream said: " + "x" * 5000)
        return self.proposal

    async def review(self, request: ReviewRequested) -> ReviewDraft:
        if isinstance(self.review_draft, ReviewDraft):
            return self.review_draft
        raise BackendError("unreadable review: " + "y" * 5000)

    async def aclose(self) -> None:
        return None


def deps(backend: Scripted) -> handlers.RunnerDeps:
    return handlers.RunnerDeps(
        profile=PROFILE, instance_id="i1", backend=backend, clock=lambda: NOW
    )


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    cap = LogCapture()
    logger = structlog.wrap_logger(
        None, processors=[cap], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )
    monkeypatch.setattr(handlers, "log", logger)
    return cap.entries


def review_request() -> ReviewRequested:
    base = request()
    return ReviewRequested(
        task_id="t1", round=1, message_id="m", seat=0, agent_id="real", task=base.task,
        candidates=(), deadline=NOW + 60,
    )  # fmt: skip


def roundtrip(message: Any) -> Any:
    """The message as a service receives it: decoding applies every bound."""
    return msgspec.json.decode(msgspec.json.encode(message), type=type(message))


@given(content=texts, reasoning=st.none() | texts)
@settings(max_examples=60, deadline=None)
def test_a_fitted_proposal_is_within_bounds_and_keeps_its_end(
    content: str, reasoning: str | None
) -> None:
    draft = ProposalDraft(content, reasoning, input_tokens=1, output_tokens=1, latency_s=0.1)
    fitted, notes = bounds.fit_proposal(draft)
    assert len(fitted.content) <= limits.CONTENT_CHARS
    assert fitted.reasoning is None or len(fitted.reasoning) <= limits.REASONING_CHARS
    cut = len(content) > limits.CONTENT_CHARS
    assert any(n.startswith("content cut") for n in notes) == cut
    assert fitted.content == content or cut
    # The last half of what fits is the text's own end: where a final answer is written.
    tail = limits.CONTENT_CHARS // 2
    assert fitted.content[-tail:] == content[-tail:]


async def test_an_over_long_proposal_is_cut_noted_and_logged(
    logged: list[dict[str, Any]],
) -> None:
    content = "Step. " * 10_000 + "\nFinal answer: \\boxed{42}"
    reasoning = "think " * 10_000
    draft = ProposalDraft(content, reasoning, input_tokens=10, output_tokens=5, latency_s=0.1)
    out = await handlers.on_work(request(), deps(Scripted(draft)))
    received = roundtrip(out)
    assert isinstance(received, ProposalSubmitted)
    assert (received.status, received.extracted_answer) == ("ok", "42")
    assert received.notes == (
        f"content cut from {len(content)} to {limits.CONTENT_CHARS} characters (the limit)",
        f"reasoning cut from {len(reasoning)} to {limits.REASONING_CHARS} characters (the limit)",
    )
    [line] = [e for e in logged if e["event"] == "output_shortened"]
    assert (line["kind"], line["notes"]) == ("proposal", list(received.notes))


async def test_an_over_long_code_answer_is_cut_to_the_answer_bound() -> None:
    code = "def f():\n" + "    x = 1\n" * 400
    draft = ProposalDraft(f"```python\n{code}```", None, input_tokens=1, output_tokens=1,
                          latency_s=0.1)  # fmt: skip
    out = await handlers.on_work(request("code"), deps(Scripted(draft)))
    received = roundtrip(out)
    assert len(received.extracted_answer) == limits.ANSWER_CHARS
    assert received.notes[-1].startswith("extracted answer cut from")


async def test_a_failure_reason_is_cut_to_the_error_bound() -> None:
    proposal = await handlers.on_work(request(), deps(Scripted()))
    review = await handlers.on_work(review_request(), deps(Scripted()))
    for out in (roundtrip(proposal), roundtrip(review)):
        assert out.status == "error"
        assert len(out.error) == limits.ERROR_CHARS
        assert out.error.endswith("…")


entries = st.builds(
    ReviewEntry,
    label=st.text(max_size=2 * limits.REVIEW_LABEL_CHARS),
    weight=st.floats(-100, 100),
    categories=st.dictionaries(st.text(max_size=80), st.floats(0, 1), max_size=20),
    justification=st.text(max_size=2 * limits.JUSTIFICATION_CHARS),
    claims=st.lists(
        st.builds(Claim, quote=st.text(max_size=2 * limits.QUOTE_CHARS)), max_size=8
    ).map(tuple),
)


@given(drawn=st.lists(entries, max_size=12))
@settings(max_examples=80, deadline=None)
def test_a_fitted_review_decodes_and_still_quotes_its_candidates(
    drawn: list[ReviewEntry],
) -> None:
    draft = ReviewDraft(entries=tuple(drawn), input_tokens=1, output_tokens=1, latency_s=0.1)
    fitted, notes = bounds.fit_review(draft)
    message = ReviewSubmitted(task_id="t1", round=1, message_id="m", seat=0, agent_id="real",
                              entries=fitted.entries, notes=tuple(notes))  # fmt: skip
    received = roundtrip(message)  # raises if any bound is broken
    assert bool(notes) == (fitted.entries != draft.entries)
    for before, after in zip(draft.entries, received.entries, strict=False):
        assert after.weight == before.weight
        # A cut quote is the start of the quote: still text of the candidate.
        for old, new in zip(before.claims, after.claims, strict=False):
            assert old.quote.startswith(new.quote)
