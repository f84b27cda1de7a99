"""The accuracy-versus-tokens plot is one valid SVG document: a marker and a label per
strategy, labelled axes, NSED's rounds as a line, and every point inside the plot area."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.bench.plot import BOTTOM, LEFT, RIGHT, TOP, render_accuracy_vs_tokens

NS = {"svg": "http://www.w3.org/2000/svg"}
STRATEGIES = [
    {"strategy": "nsed", "accuracy": 0.97, "tokens_per_task": 12000, "calls_per_task": 8.5},
    {"strategy": "best_single", "accuracy": 0.62, "tokens_per_task": 700, "calls_per_task": 1},
    {"strategy": "majority", "accuracy": 0.73, "tokens_per_task": 2100, "calls_per_task": 3},
    {
        "strategy": "majority_equal_tokens",
        "accuracy": 0.86,
        "tokens_per_task": 12000,
        "calls_per_task": 17,
    },
    {"strategy": "moa", "accuracy": 0.80, "tokens_per_task": 6000, "calls_per_task": 7},
    {"strategy": "debate", "accuracy": 0.85, "tokens_per_task": 9000, "calls_per_task": 9},
]
PER_ROUND = [
    {"round": r, "accuracy": a, "tokens_per_task": t}
    for r, a, t in [(1, 0.9, 2500), (2, 0.95, 6000), (3, 0.97, 9500), (4, 0.98, 13000)]
]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{NS['svg']}}}{tag}") if e.get("class") == cls]


def view_box(root: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in root.get("viewBox", "").split())
    return x, y, w, h


def assert_inside_plot(circles: list[ET.Element]) -> None:
    for c in circles:
        cx, cy = float(c.get("cx", "nan")), float(c.get("cy", "nan"))
        assert LEFT <= cx <= RIGHT
        assert TOP <= cy <= BOTTOM


def assert_inside_view(root: ET.Element, elements: list[ET.Element]) -> None:
    x0, y0, w, h = view_box(root)
    for e in elements:
        assert x0 <= float(e.get("x", "nan")) <= x0 + w
        assert y0 <= float(e.get("y", "nan")) <= y0 + h


def test_each_strategy_has_one_marker_and_one_label_naming_it() -> None:
    root = parse(render_accuracy_vs_tokens(STRATEGIES, PER_ROUND, title="GSM8K, 200 tasks"))
    markers = by_class(root, "circle", "strategy")
    labels = by_class(root, "text", "label")
    assert [m.get("data-strategy") for m in markers] == [s["strategy"] for s in STRATEGIES]
    assert len(labels) == len(STRATEGIES)
    for label, s in zip(labels, STRATEGIES, strict=True):
        assert (label.text or "").startswith(f"{s['strategy']} · ")
    assert by_class(root, "text", "label")[1].text == "best_single · 1 call"
    assert_inside_plot(markers)
    assert_inside_view(root, labels)
    assert [t.text for t in by_class(root, "text", "title")] == ["GSM8K, 200 tasks"]


def test_the_axes_are_labelled_and_a_wide_token_range_is_on_a_log_scale() -> None:
    root = parse(render_accuracy_vs_tokens(STRATEGIES))
    titles = {t.text for t in by_class(root, "text", "axis-title")}
    assert titles == {"accuracy", "tokens per task (log scale)"}
    narrow = [dict(s, tokens_per_task=1000 + i) for i, s in enumerate(STRATEGIES)]
    titles = {
        t.text for t in by_class(parse(render_accuracy_vs_tokens(narrow)), "text", "axis-title")
    }
    assert titles == {"accuracy", "tokens per task"}


@pytest.mark.parametrize("spread", [1.0, 5.0, 1000.0])
def test_more_tokens_is_further_right_and_higher_accuracy_is_higher(spread: float) -> None:
    rows = [
        {
            "strategy": f"s{i}",
            "accuracy": a,
            "tokens_per_task": 100 * spread**i,
            "calls_per_task": 1,
        }
        for i, a in enumerate([0.2, 0.5, 0.9])
    ]
    markers = by_class(parse(render_accuracy_vs_tokens(rows)), "circle", "strategy")
    xs = [float(m.get("cx", "nan")) for m in markers]
    ys = [float(m.get("cy", "nan")) for m in markers]
    assert xs == sorted(xs)
    assert (xs[0] < xs[-1]) == (spread > 1.0)
    assert ys == sorted(ys, reverse=True)


def test_nseds_rounds_are_a_line_through_one_point_per_round() -> None:
    root = parse(render_accuracy_vs_tokens(STRATEGIES, PER_ROUND))
    [line] = by_class(root, "polyline", "per-round")
    vertices = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    rounds = by_class(root, "circle", "round")
    assert len(vertices) == len(rounds) == len(PER_ROUND)
    assert [(float(c.get("cx", "nan")), float(c.get("cy", "nan"))) for c in rounds] == vertices
    assert_inside_plot(rounds)
    assert by_class(parse(render_accuracy_vs_tokens(STRATEGIES)), "polyline", "per-round") == []


def test_names_are_escaped_not_markup() -> None:
    rows = [{"strategy": 'a & <b> "c"\x00', "accuracy": 0.5, "tokens_per_task": 10}]
    root = parse(render_accuracy_vs_tokens(rows, title="<t>"))
    [marker] = by_class(root, "circle", "strategy")
    assert marker.get("data-strategy") == 'a & <b> "c"'
    assert [t.text for t in by_class(root, "text", "label")] == ['a & <b> "c"']
    assert [t.text for t in by_class(root, "text", "title")] == ["<t>"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_a_finite_number_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        render_accuracy_vs_tokens([dict(STRATEGIES[0], accuracy=bad)])
    with pytest.raises(ValueError, match="finite"):
        render_accuracy_vs_tokens(STRATEGIES, [dict(PER_ROUND[0], tokens_per_task=bad)])


FINITE = st.floats(allow_nan=False, allow_infinity=False)
TOKENS = st.sampled_from([0.0, 1.0, 1000.0]) | st.floats(0.0, 1e7) | FINITE
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "strategy": st.text(max_size=30),
            "accuracy": st.floats(0.0, 1.0) | FINITE,
            "tokens_per_task": TOKENS,
            "calls_per_task": st.floats(0.0, 100.0) | FINITE,
        }
    ),
    min_size=1,
    max_size=10,
)
ROUNDS = st.none() | st.lists(
    st.fixed_dictionaries(
        {"round": st.integers(1, 20), "accuracy": st.floats(0.0, 1.0), "tokens_per_task": TOKENS}
    ),
    max_size=8,
)


def row(tokens: float) -> dict[str, Any]:
    return {"strategy": "s", "accuracy": 0.5, "tokens_per_task": tokens, "calls_per_task": 1}


@given(rows=ROWS, per_round=ROUNDS, title=st.text(max_size=40), equal_x=st.booleans())
@example(rows=[row(0.0), row(5e-324)], per_round=None, title="", equal_x=False)  # subnormal
@example(rows=[row(5e-324), row(1.7e308)], per_round=None, title="", equal_x=False)
@example(rows=[row(-1.0), row(0.0)], per_round=[], title="", equal_x=True)
@settings(max_examples=300, deadline=None)
def test_any_finite_input_renders_valid_svg_with_every_point_in_the_plot_area(
    rows: list[dict[str, Any]],
    per_round: Sequence[Mapping[str, Any]] | None,
    title: str,
    equal_x: bool,
) -> None:
    if equal_x:
        rows = [dict(r, tokens_per_task=rows[0]["tokens_per_task"]) for r in rows]
    root = parse(render_accuracy_vs_tokens(rows, per_round, title=title))
    markers = by_class(root, "circle", "strategy")
    labels = by_class(root, "text", "label")
    assert len(markers) == len(labels) == len(rows)
    assert_inside_plot(markers + by_class(root, "circle", "round"))
    assert_inside_view(root, labels + by_class(root, "text", "tick"))
    assert len(by_class(root, "text", "axis-title")) == 2
    assert len(by_class(root, "circle", "round")) == len(per_round or ())
