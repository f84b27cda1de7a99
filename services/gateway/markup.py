"""HTML building blocks (pure): every text goes through ``esc`` on its way into a page.

Consumes plain strings and numbers; emits HTML strings. Text that a person or a model
wrote (prompts, proposals, critiques, error messages, agent and model names) is only ever
placed in a page through ``esc`` or ``attr``, so none of it can open an element.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable


def esc(text: object) -> str:
    """``text`` as HTML text or attribute content: ``& < > " '`` escaped."""
    return html.escape(str(text), quote=True)


def attr(name: str, value: object) -> str:
    return f' {name}="{esc(value)}"'


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut before escaping (so no entity is split)."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def join(parts: Iterable[str]) -> str:
    return "".join(parts)


def row(cells: Iterable[str], tag: str = "td") -> str:
    """A table row of cells that are already HTML."""
    return "<tr>" + join(f"<{tag}>{cell}</{tag}>" for cell in cells) + "</tr>"


def table(head: Iterable[str], rows: Iterable[str], cls: str, ident: str = "") -> str:
    named = attr("id", ident) if ident else ""
    return (
        f"<table{attr('class', cls)}{named}><thead>{row((esc(h) for h in head), 'th')}</thead>"
        f"<tbody>{join(rows)}</tbody></table>"
    )


def usd(amount: float) -> str:
    return f"${amount:.6f}" if amount < 1 else f"${amount:,.2f}"


def number(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def signed(value: float) -> str:
    return f"{value:+.2f}"


def bar(value: float, scale: float, cls: str, label: str) -> str:
    """A horizontal bar ``value / scale`` of the width, clamped to [0, 100] %."""
    share = 0.0 if scale <= 0 or not math.isfinite(value) else value / scale
    width = min(max(share, 0.0), 1.0) * 100
    return (
        f'<span class="bar {esc(cls)}" role="img"{attr("aria-label", label)}>'
        f'<span style="width:{width:.1f}%"></span></span>'
    )


def details(summary: str, body: str, ident: str, pre: bool = True) -> str:
    """Text on demand: ``summary`` and ``body`` are already HTML; ``ident`` lets the live
    view keep the element open across updates."""
    inner = f"<pre>{body}</pre>" if pre else body
    return f"<details{attr('id', ident)}><summary>{summary}</summary>{inner}</details>"
