"""The span exporter's lines are what ``nsed trace`` reads back, whatever the attributes hold."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from services._runtime.spanfile import JsonlSpanExporter
from services.cli.trace import _decode, _lines

values = st.one_of(
    st.text(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.text(), max_size=3),
)


@given(attributes=st.dictionaries(st.text(min_size=1, max_size=20), values, max_size=5))
def test_every_exported_span_is_read_back_as_it_was(tmp_path_factory, attributes) -> None:
    directory: Path = tmp_path_factory.mktemp("traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "nsed-test"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(directory / "t.jsonl")))
    with provider.get_tracer("t").start_as_current_span("handle ✓ é", attributes=attributes) as s:
        ids = s.get_span_context()
    [span] = list(_decode(_lines(directory)))
    assert span.trace_id == f"{ids.trace_id:032x}"
    assert span.name == "handle ✓ é"
    assert span.service == "nsed-test"
    expected = {k: list(v) if isinstance(v, list) else v for k, v in attributes.items()}
    assert span.attributes == expected
