"""Derived span ids and the traceparent parser (services/_runtime/tracing.py)."""

from __future__ import annotations

import os
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services._runtime import tracing

_HEX = "0123456789abcdef"
_NEAR_HEX = _HEX + "ABCDEF +_-xg "


def _field(size: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(_HEX, min_size=size, max_size=size),
        st.text(_NEAR_HEX, min_size=size - 1, max_size=size + 1),
    )


def _mutate(valid: str, at: int, char: str) -> str:
    return valid[:at] + char + valid[at + 1 :]


_VALID = st.builds("-".join, st.tuples(*(_field(n) for n in (2, 32, 16, 2))))
_NEAR_TRACEPARENTS = st.one_of(
    st.text(max_size=80),
    _VALID,
    st.builds(_mutate, _VALID, st.integers(0, 54), st.sampled_from(_NEAR_HEX)),
)


@given(_NEAR_TRACEPARENTS)
@settings(max_examples=500, deadline=None)
def test_the_fast_parser_agrees_with_the_w3c_propagator(value: str) -> None:
    ours = tracing.parse_traceparent(value)
    theirs = trace.get_current_span(
        TraceContextTextMapPropagator().extract({"traceparent": value})
    ).get_span_context()
    if len(value) != 55:  # longer forms (future versions) are the propagator's alone
        assert ours is None
    elif ours is None:
        assert not theirs.is_valid
    else:
        assert theirs.is_valid
        assert (ours.trace_id, ours.span_id, ours.trace_flags) == (
            theirs.trace_id,
            theirs.span_id,
            theirs.trace_flags,
        )


@given(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1))
def test_a_formatted_context_parses_back_to_itself(trace_id: int, span_id: int) -> None:
    ctx = trace.SpanContext(trace_id=trace_id, span_id=span_id, is_remote=True,
                            trace_flags=trace.TraceFlags(1))  # fmt: skip
    back = tracing.parse_traceparent(tracing.format_traceparent(ctx))
    assert back is not None
    assert (back.trace_id, back.span_id) == (trace_id, span_id)


def test_root_and_round_ids_are_derived_from_the_task() -> None:
    root = tracing.root_context("t-1")
    assert root == tracing.root_context("t-1")
    assert root.trace_id != tracing.root_context("t-2").trace_id
    assert tracing.round_context(root.trace_id, "t-1", 0).span_id == root.span_id
    round_one = tracing.round_context(root.trace_id, "t-1", 1)
    assert round_one.span_id not in (
        root.span_id,
        tracing.round_context(root.trace_id, "t-1", 2).span_id,
    )


def test_a_clients_trace_is_kept_for_the_root() -> None:
    client = tracing.parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert client is not None
    assert tracing.root_context("t-1", client).trace_id == client.trace_id


_SAMPLERS = st.sampled_from(
    ["", "always_on", "always_off", "parentbased_always_off", "traceidratio",
     "parentbased_traceidratio", "parentbased_always_on"]
)  # fmt: skip


@given(
    trace_id=st.integers(1, 2**128 - 1),
    sampler=_SAMPLERS,
    rate=st.one_of(st.floats(0.0, 1.0), st.sampled_from(["", "x", "2", "-1"])),
)
@settings(max_examples=400, deadline=None)
def test_a_tasks_own_trace_is_sampled_as_the_sdks_sampler_decides_for_a_root(
    trace_id: int, sampler: str, rate: float | str
) -> None:
    # Every service decides each span of a task by the same trace id: the root's flags,
    # which the derived contexts carry, must be what the configured sampler says of a root.
    env = {"OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": str(rate)}
    with mock.patch.dict(os.environ, env):
        theirs = sampling._get_from_env_or_default().should_sample(None, trace_id, "root")
        assert tracing.sampled(trace_id) == theirs.decision.is_sampled()


def test_a_round_is_sampled_as_its_root_and_a_client_decides_for_its_own_trace() -> None:
    with mock.patch.dict(os.environ, {"OTEL_TRACES_SAMPLER": "always_off"}):
        root = tracing.root_context("t-off")
        client = trace.SpanContext(
            trace_id=7, span_id=9, is_remote=True, trace_flags=trace.TraceFlags(1)
        )
        kept = tracing.root_context("t-client", client)
    assert not root.trace_flags.sampled
    assert kept.trace_flags.sampled  # the client sampled its trace: the task's spans follow
    rounds = [tracing.round_context(root.trace_id, "t-off", r, is_sampled=False) for r in (1, 2)]
    assert not any(r.trace_flags.sampled for r in rounds)
    assert tracing.format_traceparent(rounds[0]).endswith("-00")
