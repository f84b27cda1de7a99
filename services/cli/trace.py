"""``nsed trace TASK_ID``: a task's trace as a tree, read from the span files alone.

Consumes the JSON lines under ``$NSED_HOME/traces/*.jsonl`` (``services._runtime.spanfile``;
services write them only when no OTLP collector is configured). Needs neither NATS nor a
collector. The pure part comes first: ``load_task_spans`` (files → spans of the task's
traces), ``build_tree`` (spans → nested nodes) and ``label`` (one span → one line); then
``print_trace``, which renders them with rich, or as JSON.

Which spans belong to the task: every span of every trace that holds a span whose
``nsed.task_id`` is the task, except spans that name another task (one client trace may
hold several tasks). A span whose parent is not among them hangs under the trace's root
(``deliberation <task_id>``), or is a top-level node of its own when there is no root yet;
a span with no parent at all (the gateway's request) is the top, the deliberation under it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from services.cli.client import CliError

ROOT_PREFIX = "deliberation "
TASK_ATTR = "nsed.task_id"
UNWRAPPED_WIDTH = 1000


class Span(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a span file. Every field but the ids has a default, so a span written by
    an older or newer writer still loads."""

    trace_id: str
    span_id: str
    parent_id: str | None = None
    name: str = ""
    service: str = ""
    kind: str = ""
    start_ns: int = 0
    end_ns: int | None = None
    status: str = "unset"
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    links: list[dict[str, Any]] = msgspec.field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_ns is None else max(self.end_ns - self.start_ns, 0) / 1e6

    @property
    def is_root(self) -> bool:
        return self.name.startswith(ROOT_PREFIX)


_span_decoder = msgspec.json.Decoder(Span)


@dataclass
class Node:
    span: Span
    children: list[Node] = field(default_factory=list)


# -- loading --------------------------------------------------------------------------------


def traces_dir(home: str | Path) -> Path:
    return Path(home) / "traces"


def _lines(directory: Path) -> Iterator[bytes]:
    for path in sorted(directory.glob("*.jsonl")):
        try:
            with path.open("rb") as lines:
                yield from lines
        except OSError:  # removed or unreadable while we read: the other files still count
            continue


def _decode(lines: Iterable[bytes]) -> Iterator[Span]:
    for line in lines:
        try:
            yield _span_decoder.decode(line)
        except msgspec.DecodeError:  # a line cut off mid-write, or not a span at all
            continue


def load_task_spans(directory: Path, task_id: str) -> list[Span]:
    """Every span of the task's trace(s) in ``directory``, each span id once.

    Two passes over the files, each matching raw bytes before decoding, so a span file that
    holds thousands of other tasks costs a scan, not a decode per line."""
    # The writer uses json.dumps, so this is exactly how the task id appears in a line.
    needle = json.dumps(task_id).encode()
    trace_ids = {
        span.trace_id
        for span in _decode(line for line in _lines(directory) if needle in line)
        if span.attributes.get(TASK_ATTR) == task_id
    }
    if not trace_ids:
        return []
    keys = [t.encode() for t in trace_ids]
    spans: dict[tuple[str, str], Span] = {}
    candidates = (line for line in _lines(directory) if any(k in line for k in keys))
    for span in _decode(candidates):
        if span.trace_id in trace_ids and span.attributes.get(TASK_ATTR, task_id) == task_id:
            # A span exported twice (a retried export) is the same span.
            spans.setdefault((span.trace_id, span.span_id), span)
    return list(spans.values())


# -- the tree -------------------------------------------------------------------------------


def _order(node: Node) -> tuple[int, str]:
    return (node.span.start_ns, node.span.name)


SpanKey = tuple[str, str]  # (trace id, span id): derived span ids repeat across traces


def _key(span: Span) -> SpanKey:
    return (span.trace_id, span.span_id)


def _parent_key(span: Span) -> SpanKey | None:
    return None if span.parent_id is None else (span.trace_id, span.parent_id)


def _in_cycle(key: SpanKey, parent_of: dict[SpanKey, SpanKey | None]) -> bool:
    """Whether following parents from ``key`` comes back to it (only corrupt ids can)."""
    seen: set[SpanKey] = set()
    current = parent_of.get(key)
    while current is not None and current in parent_of and current not in seen:
        if current == key:
            return True
        seen.add(current)
        current = parent_of[current]
    return False


def build_tree(spans: Iterable[Span]) -> list[Node]:
    """The top-level nodes: each trace's root first, then spans with no root to hang under.

    Children are ordered by start time. A span whose parent is missing (a client's span, or
    a round span not written yet) hangs under its trace's root when there is one; a span
    with no parent (the gateway's request) is a top-level node, above the root."""
    nodes: dict[SpanKey, Node] = {}
    for span in spans:
        nodes.setdefault(_key(span), Node(span))
    parent_of = {key: _parent_key(node.span) for key, node in nodes.items()}
    roots: dict[str, Node] = {}
    for node in sorted(nodes.values(), key=_order):
        if node.span.is_root:
            roots.setdefault(node.span.trace_id, node)
    top: list[Node] = []
    for key, node in nodes.items():
        parent = parent_of[key]
        if parent is not None and parent in nodes and not _in_cycle(key, parent_of):
            nodes[parent].children.append(node)
            continue
        root = roots.get(node.span.trace_id)
        # A span with no parent at all is its trace's own root (the gateway's request,
        # which the deliberation continues): it never hangs under the deliberation.
        if root is not None and root is not node and parent is not None:
            root.children.append(node)
        else:
            top.append(node)
    for node in nodes.values():
        node.children.sort(key=_order)
    return sorted(top, key=lambda n: (not n.span.is_root, *_order(n)))


def tree_json(node: Node) -> dict[str, Any]:
    record: dict[str, Any] = msgspec.to_builtins(node.span)
    record["duration_ms"] = node.span.duration_ms
    record["children"] = [tree_json(child) for child in node.children]
    return record


# -- one line per span ----------------------------------------------------------------------


def short_service(service: str) -> str:
    return service.removeprefix("nsed-")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _duration(ms: float | None) -> str:
    if ms is None:
        return "? ms"
    return f"{ms:,.0f} ms" if ms >= 1000 else f"{ms:.1f} ms"


def details(span: Span) -> list[str]:
    """The attributes worth a glance, in reading order; absent ones are left out."""
    a = span.attributes
    out: list[str] = []
    status = _text(a.get("nsed.status"))
    if status is not None and status != "ok":
        out.append(status)
    if (reason := _text(a.get("nsed.stop_reason"))) is not None:
        out.append(reason)
    if (decision := _text(a.get("nsed.decision"))) is not None and decision != reason:
        out.append(f"decision {decision}")
    agent = _text(a.get("nsed.agent_id"))
    # The agent of a message span is whoever sent the message it handles; on the tally
    # that is only the last ballot counted, which reads as the winner, so it is left out.
    if agent is not None and not span.name.endswith(f" {agent}") and "nsed.winner" not in a:
        role = {"proposing": "proposal of", "reviewing": "ballot of", "voting": "ballot of"}
        out.append(f"{role.get(str(a.get('nsed.phase')), 'agent')} {agent}")
    if (rounds := _number(a.get("nsed.rounds"))) is not None:
        out.append(f"{rounds:.0f} round(s)")
    winner = _text(a.get("nsed.winner_agent")) or _text(a.get("nsed.winner"))
    if winner is not None:
        out.append(f"winner {winner}")
    if (conviction := _number(a.get("nsed.conviction"))) is not None:
        out.append(f"conviction {conviction:.2f}")
    if (evidence := _number(a.get("nsed.evidence"))) is not None:
        out.append(f"evidence {evidence:.3f}")
    if a.get("nsed.degraded") is True:
        out.append("degraded")
    tokens_in = _number(a.get("gen_ai.usage.input_tokens"))
    tokens_out = _number(a.get("gen_ai.usage.output_tokens"))
    if tokens_in is not None or tokens_out is not None:
        shown = ["?" if t is None else f"{t:.0f}" for t in (tokens_in, tokens_out)]
        out.append(f"tokens in {shown[0]} / out {shown[1]}")
    if (cost := _number(a.get("nsed.cost_usd"))) is not None:
        out.append(f"${cost:.6f}")
    return out


def label(span: Span) -> Text:
    """``name  service  duration  detail · detail …``; an error span is red."""
    text = Text()
    text.append(span.name or "(unnamed)", style="bold red" if span.status == "error" else "bold")
    text.append(f"  {short_service(span.service) or '?'}", style="cyan")
    text.append(f"  {_duration(span.duration_ms)}", style="dim")
    parts = details(span)
    if span.status == "error":
        parts.insert(0, "ERROR")
    if parts:
        text.append("  " + " · ".join(parts))
    return text


# -- printing -------------------------------------------------------------------------------


def _rich(node: Node, into: Tree | None = None) -> Tree:
    branch = Tree(label(node.span)) if into is None else into.add(label(node.span))
    for child in node.children:
        _rich(child, branch)
    return branch


def print_trace(task_id: str, home: str, as_json: bool) -> int:
    directory = traces_dir(home)
    spans = load_task_spans(directory, task_id)
    if not spans:
        raise CliError(
            f"no spans of task {task_id} under {directory} (spans are written there only "
            "when no OTLP collector is configured)"
        )
    top = build_tree(spans)
    trace_ids = sorted({s.trace_id for s in spans})
    if as_json:
        document = {"task_id": task_id, "trace_ids": trace_ids, "tree": [tree_json(n) for n in top]}
        sys.stdout.write(json.dumps(document) + "\n")
        return 0
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped or captured: one line per span, whatever its length, for grep and pasting.
        console.width = UNWRAPPED_WIDTH
    for trace_id in trace_ids:
        console.print(Text(f"trace {trace_id}", style="dim"))
        for node in (n for n in top if n.span.trace_id == trace_id):
            console.print(_rich(node))
    return 0
