"""Whole pages of the web view (pure): the index and one deliberation.

Consumes the read side's summaries of the deliberations (``feed.Summary``) and the live
pool (``services.broker.registry.LiveAgent``), and for one deliberation its ``Timeline``
and ``DeliberationRecord``; emits complete HTML
documents, and the deliberation's body alone for the live view's server-sent updates.
Everything is rendered here, on the server: a finished deliberation needs no JavaScript,
and a running one only swaps in a newer body (``static/live.js``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from schemas.record import DeliberationRecord
from services.broker.registry import LiveAgent
from services.gateway import sections
from services.gateway.feed import Summary
from services.gateway.markup import attr, cut, esc, row, table, usd
from services.gateway.timeline import Timeline

STATIC = "/static"
_PROMPT_CHARS = 90
REFRESH_S = 5


def document(title: str, body: str, script: bool = False, refresh_s: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    js = f'<script src="{STATIC}/live.js" defer></script>' if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="{STATIC}/view.css">{js}</head><body>'
        '<header><a href="/" class="home">NSED</a> <span class="muted">deliberations</span>'
        f"</header>{body}</body></html>"
    )


def deliberation_page(
    timeline: Timeline, record: DeliberationRecord | None, jaeger_url: str = ""
) -> str:
    live = not timeline.done
    events = f"/deliberations/{timeline.task_id}/events"
    main = (
        f'<main id="deliberation"{attr("data-task", timeline.task_id)}'
        f"{attr('data-events', events) if live else ''}>"
        f"{deliberation_body(timeline, record, jaeger_url)}</main>"
    )
    return document(f"NSED · {timeline.task_id}", main, script=live)


def deliberation_body(
    timeline: Timeline, record: DeliberationRecord | None, jaeger_url: str = ""
) -> str:
    """Everything inside ``<main>``: also what each live update carries."""
    return (
        f"<h1>Deliberation <code>{esc(timeline.task_id)}</code></h1>"
        f"{sections.status_line(timeline, record)}"
        f"{sections.trace_link(timeline, record, jaeger_url)}"
        f'<section id="question"><h2>Question</h2>{sections.question(record)}</section>'
        f'<section id="result"><h2>Answer</h2>{sections.answer(timeline)}</section>'
        f'<section id="team"><h2>Team, tokens and cost</h2>{sections.team(timeline)}</section>'
        f'<section id="halting"><h2>Conviction and evidence</h2>'
        f"{sections.halting(timeline)}</section>"
        f'<section id="rounds"><h2>Rounds</h2>{sections.rounds(timeline, record)}</section>'
    )


def index_page(
    rows: Sequence[Summary],
    pool: Sequence[LiveAgent],
    unhealthy: Sequence[LiveAgent] = (),
    now: float | None = None,
) -> str:
    """Running deliberations, then recent ones (newest first), then the live pool. It
    reloads itself every few seconds, which needs no JavaScript."""
    clock = time.time() if now is None else now
    newest = sorted(rows, key=lambda r: r.created_at, reverse=True)
    running = [r for r in newest if r.status == "running"]
    recent = [r for r in newest if r.status != "running"]
    body = (
        "<main><h1>Deliberations</h1>"
        f'<section id="running"><h2>Running ({len(running)})</h2>'
        f"{_deliberations(running, clock, 'running-list')}</section>"
        f'<section id="recent"><h2>Recent ({len(recent)})</h2>'
        f"{_deliberations(recent, clock, 'recent-list')}</section>"
        f'<section id="pool"><h2>Live agent pool ({len(pool)})</h2>{_pool(pool, unhealthy)}'
        "</section></main>"
    )
    return document("NSED · deliberations", body, refresh_s=REFRESH_S)


def not_found_page(task_id: str) -> str:
    body = (
        f"<main><h1>No deliberation <code>{esc(task_id)}</code></h1>"
        "<p>This server has no record and no events of that task.</p></main>"
    )
    return document("NSED · not found", body)


def _deliberations(rows: Sequence[Summary], now: float, ident: str) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    head = ["task", "started", "question", "protocol", "rounds", "state", "answer", "cost"]
    return table(head, (_deliberation_row(r, now) for r in rows), "deliberations", ident)


def _deliberation_row(summary: Summary, now: float) -> str:
    if summary.status == "running":
        state = f"running ({summary.phase})"
    else:
        state = f"{summary.status} ({summary.stop_reason})"
    cost = usd(summary.cost_usd) if summary.cost_usd is not None else "–"
    link = f"<a{attr('href', f'/deliberations/{summary.task_id}')}>{esc(summary.task_id)}</a>"
    return row(
        [
            link,
            esc(_ago(now - summary.created_at)),
            esc(cut(" ".join(summary.prompt.split()), _PROMPT_CHARS)),
            esc(summary.protocol),
            str(summary.rounds),
            f'<span class="state {esc(summary.status)}">{esc(state)}</span>',
            esc(cut(summary.answer, 40)) if summary.answer is not None else "–",
            cost,
        ]
    )


def _pool(pool: Sequence[LiveAgent], unhealthy: Sequence[LiveAgent]) -> str:
    if not pool and not unhealthy:
        return '<p class="muted">No live agents.</p>'
    head = ["agent", "model", "family", "backend", "instances", "busy / capacity", "latency"]
    rows = [
        row(
            [
                esc(a.agent_id),
                esc(a.card.model),
                esc(a.card.family),
                esc(a.card.backend),
                str(a.instances),
                f"{a.in_flight} / {a.in_flight + a.capacity}",
                f"{a.card.latency_s:.2f}s (p95 {a.card.latency_p95_s:.2f}s)",
            ]
        )
        for a in pool
    ]
    notes = "".join(
        f'<p class="bad">unhealthy, not seated: {esc(a.agent_id)}: {esc(a.card.health)}</p>'
        for a in unhealthy
    )
    return table(head, rows, "pool", "pool-list") + notes


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
