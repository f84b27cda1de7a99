"""Accuracy against tokens per task, as SVG text (pure: no I/O, no plotting library).

Consumes the bench's ``strategies`` rows, ``{strategy, accuracy, tokens_per_task,
calls_per_task}``, and optionally NSED's accuracy by round, ``{round, accuracy,
tokens_per_task}`` with the tokens counted cumulatively through that round. Emits one SVG
document: each strategy a marker labelled with its name and calls per task, NSED's rounds
a line, x = tokens per task (log scale when the values span more than ``LOG_SPAN``×, all
positive), y = accuracy on a fixed 0..1 axis.

Accuracy is drawn clamped into [0, 1] and negative tokens at 0, so every point lies in the
plot area; a value that is not a finite number is a ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 760, 460
LEFT, RIGHT, TOP, BOTTOM = 70.0, 730.0, 60.0, 400.0  # the plot area, in viewBox units
LOG_SPAN = 10.0
MARKER_R = 5.0
LINE_H = 14.0  # label height: labels closer than this on the same side are moved apart
CHAR_W = 6.6  # an estimate of one character's width at the label font size
_STYLE = (
    "text{font-family:sans-serif;font-size:12px;fill:#222}"
    ".title{font-size:15px;font-weight:bold}.tick{font-size:11px;fill:#555}"
    ".grid{stroke:#e3e3e3}.leader{stroke:#999;stroke-width:.7}.axis{stroke:#444}.strategy{fill:#1f77b4}"
    ".per-round{fill:none;stroke:#d62728;stroke-width:2}.round{fill:#d62728}"
)


@dataclass(frozen=True)
class _Point:
    name: str
    accuracy: float
    tokens: float
    calls: float | None = None


def _number(row: Mapping[str, Any], key: str) -> float:
    value = float(row[key])
    if not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, not {value!r}")
    return value


def _point(row: Mapping[str, Any], name: str, calls: bool) -> _Point:
    return _Point(
        name=name,
        accuracy=min(max(_number(row, "accuracy"), 0.0), 1.0),
        tokens=max(_number(row, "tokens_per_task"), 0.0),
        calls=_number(row, "calls_per_task") if calls and "calls_per_task" in row else None,
    )


def _clean(value: str) -> str:
    """``value`` on one line, without the characters XML 1.0 cannot carry at all (most
    control characters, lone surrogates, U+FFFE and U+FFFF)."""
    one_line = "".join(" " if c in "\t\n\r" else c for c in value)
    return "".join(
        c for c in one_line if "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"
    )


def _text(value: str) -> str:
    return escape(_clean(value))


def _fmt(x: float) -> str:
    """A tick label: 950, 1.5k, 20k, 3M; beyond the SI prefixes, 1e12."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale and abs(x) < 1e12:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


class _XScale:
    """Tokens → x. The log scale works on log10 throughout, so no bound is ever formed as a
    power of ten that overflows; the linear scale starts at 0 tokens."""

    def __init__(self, values: Sequence[float]) -> None:
        lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
        self.log = lo > 0.0 and math.log10(hi) - math.log10(lo) > math.log10(LOG_SPAN)
        if self.log:  # the ends as exponents, with a margin of the span on either side
            pad = 0.06 * (math.log10(hi) - math.log10(lo))
            self.lo, self.hi = math.log10(lo) - pad, math.log10(hi) + pad
        else:
            self.lo, self.hi = 0.0, self._nice_top(hi)

    @staticmethod
    def _nice_top(hi: float) -> float:
        if hi <= 0.0:
            return 1.0
        step = 10.0 ** math.floor(math.log10(hi))
        if step == 0.0:  # hi is subnormal: its power of ten rounds to 0
            return hi
        top = math.ceil(hi / step * 1.05) * step  # headroom, so no point sits on the edge
        return top if math.isfinite(top) and top >= hi else hi

    def _at(self, frac: float) -> float:
        return LEFT + min(max(frac, 0.0), 1.0) * (RIGHT - LEFT)

    def __call__(self, tokens: float) -> float:
        if self.log:
            return self._at((math.log10(tokens) - self.lo) / (self.hi - self.lo))
        return self._at(tokens / self.hi)

    def ticks(self) -> list[tuple[float, str]]:
        if not self.log:
            return [(self._at(i / 5), _fmt(self.hi * i / 5)) for i in range(6)]
        first, last = math.ceil(self.lo), math.floor(self.hi)
        every = max(1, math.ceil((last - first + 1) / 8))
        # 1-2-5 within each decade when there are few decades to mark
        steps = (0.0, math.log10(2), math.log10(5)) if self.hi - self.lo < 2.5 else (0.0,)
        out = []
        for e in range(first - 1, last + 1, every):
            for step in steps:
                at = e + step
                if self.lo <= at <= self.hi:
                    label = _fmt(10.0**at) if abs(e) < 300 else f"1e{e}"
                    out.append((self._at((at - self.lo) / (self.hi - self.lo)), label))
        return out


def _y(accuracy: float) -> float:
    return BOTTOM - accuracy * (BOTTOM - TOP)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(
    anchors: list[tuple[float, float, float]], obstacles: list[Box]
) -> list[tuple[float, float, str]]:
    """A position (x, baseline y, text-anchor) for each label of width w beside its marker
    at (x, y): the nearest free slot, trying right then left (left first in the right third
    of the plot), then a line up, a line down, two lines up, and so on. A free slot lies in
    the plot area and covers no marker and no label placed before it; when there is none,
    the label goes beside its marker anyway (inside the plot area)."""
    placed: list[tuple[float, float, str]] = [(0.0, 0.0, "")] * len(anchors)
    taken = list(obstacles)
    for i in sorted(range(len(anchors)), key=lambda i: (-anchors[i][1], anchors[i][0])):
        x, y, width = anchors[i]
        sides = ("start", "end") if x < LEFT + 2 / 3 * (RIGHT - LEFT) else ("end", "start")
        slots = [(dy, side) for k in range(10) for dy in ((-k, k) if k else (0,)) for side in sides]
        choice: tuple[float, float, str, Box] | None = None
        for dy, side in slots:
            lx = x + 8.0 if side == "start" else x - 8.0
            ly = y + 4.0 + dy * LINE_H
            box = (lx, ly - 11.0, lx + width, ly + 3.0)
            if side == "end":
                box = (lx - width, ly - 11.0, lx, ly + 3.0)
            inside = box[0] >= LEFT and box[2] <= RIGHT and box[1] >= TOP and box[3] <= BOTTOM
            if inside and not any(_overlaps(box, t) for t in taken):
                choice = (lx, ly, side, box)
                break
        if choice is None:
            lx = x + 8.0 if sides[0] == "start" else x - 8.0
            ly = min(max(y + 4.0, TOP + 11.0), BOTTOM - 3.0)
            choice = (lx, ly, sides[0], (lx, ly - 11.0, lx, ly + 3.0))
        taken.append(choice[3])
        placed[i] = choice[:3]
    return placed


def _calls(calls: float | None) -> str:
    if calls is None:
        return ""
    return f" · {calls:.3g} call" + ("" if calls == 1 else "s")


def _axes(scale: _XScale) -> list[str]:
    out = [
        f'<line class="axis" x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}"/>',
    ]
    for i in range(6):
        y = _y(i / 5)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" '
            f'text-anchor="end">{i / 5:.1f}</text>'
        )
    for x, label in scale.ticks():
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{BOTTOM}"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{BOTTOM + 18}" text-anchor="middle">{label}</text>'
        )
    axis = "tokens per task" + (" (log scale)" if scale.log else "")
    mid_x, mid_y = (LEFT + RIGHT) / 2, (TOP + BOTTOM) / 2
    out.append(
        f'<text class="axis-title" x="{mid_x}" y="{BOTTOM + 44}" text-anchor="middle">{axis}</text>'
    )
    out.append(
        f'<text class="axis-title" x="20" y="{mid_y}" text-anchor="middle" '
        f'transform="rotate(-90 20 {mid_y})">accuracy</text>'
    )
    return out


def _per_round(points: list[_Point], scale: _XScale) -> list[str]:
    xy = [(scale(p.tokens), _y(p.accuracy)) for p in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    out = [f'<polyline class="per-round" points="{line}"/>']
    for p, (x, y) in zip(points, xy, strict=True):
        out.append(
            f'<circle class="round" cx="{x:.1f}" cy="{y:.1f}" r="3">'
            f"<title>{_text(f'{p.name}: accuracy {p.accuracy:.3f}, {p.tokens:.0f} tokens')}"
            "</title></circle>"
        )
    legend_y = TOP - 12
    out.append(
        f'<line class="per-round" x1="{RIGHT - 250}" y1="{legend_y - 4}" x2="{RIGHT - 226}" '
        f'y2="{legend_y - 4}"/><text class="legend" x="{RIGHT - 220}" y="{legend_y}">'
        "NSED by round (cumulative tokens)</text>"
    )
    return out


def render_accuracy_vs_tokens(
    strategies: Sequence[Mapping[str, Any]],
    per_round: Sequence[Mapping[str, Any]] | None = None,
    title: str = "",
) -> str:
    """The SVG document: a marker and a label per strategy, the per-round line if given."""
    points = [_point(row, str(row["strategy"]), calls=True) for row in strategies]
    rounds = [
        _point(row, f"round {row.get('round', i + 1)}", calls=False)
        for i, row in enumerate(per_round or ())
    ]
    scale = _XScale([p.tokens for p in points + rounds])
    body = _axes(scale)
    if title:
        body.append(f'<text class="title" x="{LEFT}" y="24">{_text(title)}</text>')
    if rounds:
        body += _per_round(rounds, scale)
    texts = [p.name + _calls(p.calls) for p in points]
    anchors = [
        (scale(p.tokens), _y(p.accuracy), CHAR_W * len(t))
        for p, t in zip(points, texts, strict=True)
    ]
    r = MARKER_R + 1.0
    obstacles = [(x - r, y - r, x + r, y + r) for x, y, _ in anchors]
    obstacles += [
        (scale(p.tokens) - 4, _y(p.accuracy) - 4, scale(p.tokens) + 4, _y(p.accuracy) + 4)
        for p in rounds
    ]
    for p, t, (x, y, _), (lx, ly, side) in zip(
        points, texts, anchors, _place_labels(anchors, obstacles), strict=True
    ):
        if abs(ly - (y + 4.0)) > 1.0:  # moved off its marker's line: point back to it
            body.append(
                f'<line class="leader" x1="{x:.1f}" y1="{y:.1f}" x2="{lx:.1f}" y2="{ly - 4:.1f}"/>'
            )
        tip = f"{p.name}: accuracy {p.accuracy:.3f}, {p.tokens:.0f} tokens per task"
        body.append(
            f'<circle class="strategy" cx="{x:.1f}" cy="{y:.1f}" r="{MARKER_R}" '
            f"data-strategy={quoteattr(_clean(p.name))}><title>{_text(tip)}</title></circle>"
        )
        body.append(
            f'<text class="label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{side}">{_text(t)}</text>'
        )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}">',
            f"<style>{_STYLE}</style>",
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
            *body,
            "</svg>",
            "",
        ]
    )
