"""The sections of one deliberation's page (pure): where it stands and its answer, the
team with each agent's tokens and cost, conviction and evidence against the halting
threshold, and every round (proposals, vote matrix, the gate's decision).

Consumes a ``Timeline`` (services/gateway/timeline.py) and, when the records bucket still
has it, the task's ``DeliberationRecord`` (the question, the current phase, the trace);
emits HTML. Every text a person or an agent wrote is escaped (services/gateway/markup.py).
"""

from __future__ import annotations

from schemas.base import Usage
from schemas.propose import ProposalSubmitted
from schemas.record import DeliberationRecord
from services._runtime import tracing
from services.gateway.heatmap import vote_matrix
from services.gateway.markup import (
    attr,
    bar,
    details,
    esc,
    join,
    number,
    row,
    table,
    usd,
)
from services.gateway.timeline import RoundView, Timeline


def trace_id(timeline: Timeline, record: DeliberationRecord | None) -> str | None:
    """The task's trace: the result's, else the root span the record keeps."""
    if timeline.result is not None and timeline.result.trace_id:
        return timeline.result.trace_id
    return tracing.trace_id_of(record.traceparent) if record is not None else None


def status_line(timeline: Timeline, record: DeliberationRecord | None) -> str:
    result = timeline.result
    if result is not None:
        detail = f" · {esc(result.detail)}" if result.detail else ""
        return (
            f'<p class="status {esc(result.status)}" id="status"><b>{esc(result.status)}</b> '
            f"· stopped: <b>{esc(result.stop_reason)}</b> after {result.rounds} round(s) · "
            f"{result.elapsed_s:.1f}s · {usd(result.cost_usd)}{detail}</p>"
        )
    if timeline.refused is not None:
        return f'<p class="status failed" id="status">refused: {esc(timeline.refused.reason)}</p>'
    if record is not None:
        where = f"round {record.current.number}, {record.current.phase}"
    else:
        rounds = timeline.ordered_rounds()
        where = f"round {rounds[-1].number}" if rounds else "waiting for a team"
    return f'<p class="status running" id="status"><b>running</b> · {esc(where)}</p>'


def question(record: DeliberationRecord | None) -> str:
    if record is None:
        return '<p class="muted">The question is no longer in the records bucket.</p>'
    task = record.task
    system = (
        details("system message", esc(task.system), "system") if task.system is not None else ""
    )
    facts = (
        f"{esc(task.policy.protocol)} · format {esc(task.answer_format)} · domain "
        f"{esc(task.domain)} · up to {task.policy.max_rounds} rounds"
    )
    return f'<pre class="prompt" id="prompt">{esc(task.prompt)}</pre>{system}<p>{facts}</p>'


def answer(timeline: Timeline) -> str:
    result = timeline.result
    if result is None:
        return '<p class="muted" id="answer">No answer yet.</p>'
    extracted = result.extracted_answer if result.extracted_answer is not None else "(none)"
    who = f" from <b>{esc(result.winner_agent)}</b>" if result.winner_agent else ""
    correct = "" if result.correct is None else (" · correct" if result.correct else " · wrong")
    sim = " · simulated agents" if result.simulated else ""
    text = details("the winning text", esc(result.answer), "answer-text") if result.answer else ""
    return (
        f'<div id="answer"><p class="answer"><span class="big">{esc(extracted)}</span>{who}'
        f"{correct}{sim}</p>{text}</div>"
    )


def trace_link(timeline: Timeline, record: DeliberationRecord | None, jaeger_url: str) -> str:
    found = trace_id(timeline, record)
    if found is None:
        return ""
    if not jaeger_url:
        return f'<p class="muted">trace {esc(found)} (set NSED_JAEGER_URL to link it)</p>'
    href = f"{jaeger_url.rstrip('/')}/trace/{found}"
    return f'<p><a id="trace"{attr("href", href)}>trace {esc(found)} in Jaeger</a></p>'


def team(timeline: Timeline) -> str:
    usage = timeline.usage()
    seats = timeline.team()
    seated = {s.agent_id for s in seats}
    rows = [
        row(
            [
                str(s.seat),
                esc(s.agent_id),
                esc(s.role),
                f"{number(s.p_g)} / {number(s.p_v)}",
                *_usage_cells(usage.get(s.agent_id)),
            ]
        )
        for s in seats
    ]
    # Agents that were paid but no longer sit (replaced in a later round) still cost.
    rows += [
        row(["–", esc(agent), "(left)", "–", *_usage_cells(u)])
        for agent, u in sorted(usage.items())
        if agent not in seated
    ]
    head = ["seat", "agent", "role", "p_g / p_v", "tokens in", "tokens out", "calls", "cost"]
    return table(head, rows, "team", "team-usage")


def _usage_cells(usage: Usage | None) -> list[str]:
    if usage is None:
        return ["0", "0", "0", usd(0.0)]
    return [
        f"{usage.input_tokens:,}",
        f"{usage.output_tokens:,}",
        str(usage.calls),
        usd(usage.cost_usd),
    ]


def halting(timeline: Timeline) -> str:
    """Conviction (the winner's share of positive score) and accumulated evidence E(r) per
    round, against the gate's threshold ε·B once the gate has said it."""
    halt = timeline.result.halting if timeline.result is not None else None
    evidence = timeline.evidence()
    scale = max([halt.target if halt else 0.0, *evidence.values(), 1e-9])
    rows = [
        row([str(v.number), _conviction_cell(v), _evidence_cell(evidence.get(v.number), scale)])
        for v in timeline.ordered_rounds()
    ]
    if halt is None:
        threshold = "The gate states its threshold ε·B when it stops."
    else:
        threshold = (
            f"Threshold ε·B = {number(halt.target, 3)} (signal B = {number(halt.signal, 3)}, "
            f"best round T_opt = {number(halt.t_opt, 1)}); E after the last round = "
            f"{number(halt.evidence, 3)}."
        )
    return table(["round", "conviction", "evidence E(r)"], rows, "halting") + (
        f'<p id="threshold">{esc(threshold)}</p>'
    )


def _conviction_cell(view: RoundView) -> str:
    if view.tally is None:
        return "–"
    c = view.tally.conviction
    return bar(c, 1.0, "conviction", f"conviction {c:.2f}") + f" {number(c)}"


def _evidence_cell(e: float | None, scale: float) -> str:
    if e is None:
        return "–"
    return bar(e, scale, "evidence", f"evidence {e:.3f}") + f" {number(e, 3)}"


def rounds(timeline: Timeline, record: DeliberationRecord | None) -> str:
    protocol = record.task.policy.protocol if record is not None else None
    return join(
        round_section(view, timeline, protocol) for view in reversed(timeline.ordered_rounds())
    )


def votes(view: RoundView, task_id: str, protocol: str | None) -> str:
    if protocol is not None and protocol != "nsed":
        return (
            f'<p class="muted">No peer review in protocol {esc(protocol)}: the tally counts '
            "the answers (plurality).</p>"
        )
    return vote_matrix(view, task_id)


def round_section(view: RoundView, timeline: Timeline, protocol: str | None = None) -> str:
    winner = view.winner()
    head = f"Round {view.number}"
    if view.tally is not None:
        who = winner.agent_id if winner is not None else "nobody"
        # The tally names a leader even when no option had positive support.
        lead = f"winner {who}" if view.tally.supported else f"no supported winner (leading: {who})"
        head += f" · {lead} · conviction {view.tally.conviction:.2f}"
    return (
        f'<section class="round"{attr("id", f"round-{view.number}")}><h3>{esc(head)}</h3>'
        f"{proposals(view)}<h4>Votes</h4>{votes(view, timeline.task_id, protocol)}"
        f"{decision(view, timeline)}</section>"
    )


def proposals(view: RoundView) -> str:
    tally = view.tally
    badge = "" if tally is None else ("winner" if tally.supported else "leading")
    winner = tally.winner if tally is not None else None
    ordered = sorted(view.proposals.values(), key=lambda p: p.seat)
    rows = [_proposal_row(p, badge if p.proposal_id == winner else "") for p in ordered]
    if not rows:
        return '<p class="muted">No proposals yet.</p>'
    head = ["seat", "agent", "status", "answer", "tokens in/out", "latency", "text"]
    return table(head, rows, "proposals")


def _proposal_row(p: ProposalSubmitted, badge: str) -> str:
    status = esc(p.status) + (f": {esc(p.error)}" if p.error else "")
    text = details("show", esc(p.content), f"text-{p.proposal_id}") if p.content else "–"
    if p.reasoning:
        text += details("reasoning", esc(p.reasoning), f"reasoning-{p.proposal_id}")
    agent = esc(p.agent_id) + (f' <b class="won">{badge}</b>' if badge else "")
    answer = esc(p.extracted_answer) if p.extracted_answer is not None else "–"
    return row(
        [
            str(p.seat),
            agent,
            status,
            f'<span class="answer">{answer}</span>',
            f"{p.usage.input_tokens:,} / {p.usage.output_tokens:,}",
            f"{p.latency_s:.2f}s",
            text,
        ]
    )


def decision(view: RoundView, timeline: Timeline) -> str:
    """What the gate decided after this round."""
    if view.continued is not None:
        c = view.continued
        why = f" ({esc(c.reason)})" if c.reason else ""
        return (
            f'<p class="gate">gate: continue to round {c.next_round}{why} · evidence '
            f"{number(c.evidence, 3)} · {c.state.tokens} state tokens · "
            f"spend {usd(c.spend_usd)}</p>"
        )
    result = timeline.result
    if result is not None and view.number == max(timeline.rounds, default=0):
        return f'<p class="gate">gate: stop ({esc(result.stop_reason)})</p>'
    return ""
