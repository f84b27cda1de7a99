"""Riding out an outage: a bounded, non-decreasing backoff; one warning when failures start
and one line when they end, however many tries between; transient NATS errors become
``Retryable``, others pass through."""

from __future__ import annotations

import logging

import nats.errors
import nats.js.errors
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import LogCapture

from services._runtime.errors import Retryable
from services._runtime.retry import Backoff, Outage, retryable

backoffs = st.builds(
    lambda first, ratio, factor: Backoff(first_s=first, max_s=first * ratio, factor=factor),
    st.floats(min_value=1e-3, max_value=10.0),
    st.floats(min_value=1.0, max_value=1e4),
    st.floats(min_value=1.0, max_value=10.0),
)


@given(backoffs, st.integers(min_value=0, max_value=10_000))
def test_a_backoff_never_waits_past_its_cap_nor_less_than_its_first_wait(
    backoff: Backoff, attempt: int
) -> None:
    assert backoff.first_s <= backoff.delay(attempt) <= backoff.max_s


@given(backoffs, st.integers(min_value=0, max_value=10_000))
def test_a_backoff_never_shortens_from_one_try_to_the_next(backoff: Backoff, attempt: int) -> None:
    assert backoff.delay(attempt) <= backoff.delay(attempt + 1)


@given(backoffs)
def test_a_backoff_starts_at_its_first_wait_and_reaches_its_cap(backoff: Backoff) -> None:
    assert backoff.delay(0) == backoff.first_s
    if backoff.factor > 1.0001:
        assert backoff.delay(100_000) == pytest.approx(backoff.max_s)


def test_the_default_backoff_doubles_from_a_tenth_of_a_second_up_to_five() -> None:
    assert [Backoff().delay(n) for n in range(8)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_a_backoff_whose_cap_is_below_its_first_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="first_s <= max_s"):
        Backoff(first_s=2.0, max_s=1.0)


def _captured() -> tuple[LogCapture, object]:
    cap = LogCapture()
    log = structlog.wrap_logger(
        None, processors=[cap], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )
    return cap, log


def test_an_outage_logs_one_warning_however_many_tries_fail_and_one_line_when_it_ends() -> None:
    cap, log = _captured()
    now = [100.0]
    outage = Outage(log, "heartbeat_failed", clock=lambda: now[0], agent="alpha")
    waits = []
    for _ in range(50):
        waits.append(outage.failed(TimeoutError()))
        now[0] += 1.0
    outage.ok()
    outage.ok()  # nothing was failing any more: no second line

    assert [(e["log_level"], e["event"]) for e in cap.entries] == [
        ("warning", "heartbeat_failed"),
        ("info", "recovered"),
    ]
    assert cap.entries[0]["agent"] == "alpha"
    assert cap.entries[1] == {
        "event": "recovered",
        "log_level": "info",
        "after": "heartbeat_failed",
        "failures": 50,
        "failing_s": 50.0,
        "agent": "alpha",
    }
    assert waits == [Backoff().delay(n) for n in range(50)]


def test_a_second_outage_is_announced_again_and_backs_off_from_the_start() -> None:
    cap, log = _captured()
    outage = Outage(log, "watch_failed")
    outage.failed(TimeoutError())
    outage.failed(TimeoutError())
    outage.ok()
    assert outage.failed(TimeoutError()) == Backoff().first_s
    assert [e["event"] for e in cap.entries] == ["watch_failed", "recovered", "watch_failed"]


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError(),
        nats.errors.TimeoutError(),
        nats.errors.NoRespondersError(),
        nats.errors.OutboundBufferLimitError(),
        nats.js.errors.ServiceUnavailableError(),
        nats.js.errors.NoStreamResponseError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_transient_nats_error_becomes_retryable(error: Exception) -> None:
    with pytest.raises(Retryable, match="record read") as raised, retryable("record read", 2.0):
        raise error
    assert raised.value.delay == 2.0
    assert raised.value.__cause__ is error


def test_any_other_error_passes_through_unchanged() -> None:
    with pytest.raises(nats.js.errors.BadRequestError), retryable("record write"):
        raise nats.js.errors.BadRequestError()
