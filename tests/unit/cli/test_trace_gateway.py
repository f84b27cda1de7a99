"""``nsed trace`` of a task asked through the gateway: the request's span is the trace's
own root (no parent), and the deliberation hangs under it."""

from __future__ import annotations

from services.cli.trace import build_tree
from tests.unit.cli.test_trace_cli import ROOT, as_span, names, span, task_spans

REQUEST = "c" * 16  # the span id task_spans() gives the deliberation's parent


def test_a_request_span_without_a_parent_is_the_top_and_holds_the_deliberation() -> None:
    request = span(REQUEST, "chat nsed", parent=None, service="nsed-gateway", start_ms=-5,
                   duration_ms=1000, nsed__task_id="t-1")  # fmt: skip
    records = [request, *task_spans()]
    top = build_tree(as_span(r) for r in records)
    assert names(top) == ["chat nsed"]
    assert names(top[0].children) == ["deliberation t-1"]
    assert top[0].children[0].span.span_id == ROOT
    assert names(top[0].children[0].children) == ["intake", "round 1"]
