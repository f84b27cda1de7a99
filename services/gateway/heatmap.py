"""One round's vote matrix as a heat map (pure): reviewer × candidate.

Consumes a ``RoundView`` (services/gateway/timeline.py); emits an HTML table. A column is a
candidate under its real agent and answer; a cell shows the masked label that reviewer saw
it under and the reviewer's quadratic vote s[i, j] (the tally's), coloured by sign and
size. Before the tally a cell shows the ballot's weight instead (w, in [-100, 100]); a
reviewer never votes on its own agent's proposals.
"""

from __future__ import annotations

from schemas.propose import ProposalSubmitted
from schemas.tally import TallyComputed
from services.gateway.markup import attr, cut, esc, join, number, signed
from services.gateway.timeline import RoundView

_ANSWER_CHARS = 24


def vote_matrix(view: RoundView, task_id: str) -> str:
    candidates = view.candidates()
    reviewers = view.reviewers()
    if not candidates or not reviewers:
        return '<p class="muted">No reviews in this round yet.</p>'
    head = "<th>reviewer ↓ · candidate →</th>" + join(_head(p) for p in candidates)
    body = join(_reviewer_row(view, task_id, seat, candidates) for seat in reviewers)
    foot = _score_row(view.tally, candidates) if view.tally is not None else ""
    state = "votes (tally)" if view.tally is not None else "ballot weights (before the tally)"
    return (
        f'<table class="votes"{attr("id", f"votes-{view.number}")}'
        f"{attr('aria-label', f'round {view.number} {state}')}>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>"
    )


def _head(proposal: ProposalSubmitted) -> str:
    answer = cut(proposal.extracted_answer or "(no answer)", _ANSWER_CHARS)
    return (
        f'<th scope="col"{attr("data-agent", proposal.agent_id)}>'
        f"{esc(proposal.agent_id)}<br><small>seat {proposal.seat} · {esc(answer)}</small></th>"
    )


def _reviewer_row(
    view: RoundView, task_id: str, seat: int, candidates: list[ProposalSubmitted]
) -> str:
    ballot = view.ballots.get(seat)
    agent = ballot.agent_id if ballot else view.reviews[seat].agent_id
    if ballot is None:
        state = '<small class="muted">review in, ballot pending</small>'
    elif ballot.valid:
        state = '<small class="ok">valid</small>'
    else:
        why = "; ".join(ballot.notes) or "invalid"
        state = f'<small class="bad"{attr("title", why)}>invalid: {esc(cut(why, 60))}</small>'
    labels = view.labels(task_id, seat)
    cells = join(_cell(view, seat, agent, p, labels.get(p.proposal_id)) for p in candidates)
    return (
        f'<tr{attr("data-reviewer", agent)}><th scope="row">{esc(agent)} '
        f"<small>seat {seat}</small><br>{state}</th>{cells}</tr>"
    )


def _cell(
    view: RoundView, seat: int, agent: str, proposal: ProposalSubmitted, label: str | None
) -> str:
    if proposal.agent_id == agent:
        return '<td class="self" title="a reviewer never votes on its own agent">self</td>'
    weight = view.weight(seat, proposal.proposal_id)
    vote = view.vote(seat, proposal.proposal_id)
    shown = f"<small>{esc(label)}</small><br>" if label else ""
    if vote is not None:
        value, text = vote, signed(vote)
    elif weight is not None and view.tally is None:
        value, text = weight / 100.0, f"w {weight:+.0f}"
    else:
        return f'<td class="none" title="not counted">{shown}–</td>'
    hue = 140 if value >= 0 else 5
    alpha = min(abs(value), 1.0) * 0.85 + 0.05
    title = (
        f"{agent} on {proposal.agent_id}"
        + (f" (shown as {label})" if label else "")
        + (f": weight {weight:+.0f}" if weight is not None else "")
        + (f", vote {vote:+.3f}" if vote is not None else "")
    )
    return (
        f'<td class="cell" style="--h:{hue};--a:{alpha:.2f}"{attr("title", title)}'
        f"{attr('data-vote', number(vote, 3) if vote is not None else '')}>{shown}{text}</td>"
    )


def _score_row(tally: TallyComputed, candidates: list[ProposalSubmitted]) -> str:
    scores = {s.proposal_id: s.score for s in tally.scores}
    cells = join(
        f'<td class="{"winner" if p.proposal_id == tally.winner else "score"}">'
        f"A = {number(scores.get(p.proposal_id))}</td>"
        for p in candidates
    )
    return f'<tfoot><tr><th scope="row">score (Σ votes)</th>{cells}</tr></tfoot>'
