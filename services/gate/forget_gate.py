"""The semantic forget gate (pure, §5.4): round t's outcome folded into a bounded state.

From round t to t+1:

1. carried items decay: ρ ← γ·ρ (the previous winner becomes an alternative);
2. new items enter with ρ = (1−γ)·support, support being the proposal's net support (its
   mean vote from the reviewers who judged it) clipped to [0, 1]: a proposal rated well
   keeps its support however it ranked, and one nobody backed has none. A proposal enters
   as its answer and a short excerpt (``EXCERPT_TOKENS``, cut in the middle), not its whole
   text. Critiques and disputed claims inherit the support of the proposal they concern,
   boosted by its controversy;
3. near-duplicates merge (same extracted answer, or same normalised text), summing ρ;
4. items with ρ below ``floor`` are forgotten (never the round's winner);
5. the rest are packed by descending ρ into the budget, the winner always first
   (truncated with an explicit marker if it alone exceeds it), at most ``STATE_ITEMS`` of
   them (the bound of a message that carries the state).

The budget packed is ``state_token_budget − FRAME_RESERVE`` item tokens, each item counted
as rendered, fence included (``services.core.fencing.state_item``); feedback lines likewise
count their ``critique`` fence. The reserve pays for everything a later round's prompt adds
to round 1's besides the state and the feedback, so a proposal prompt in round r is at most
the round-1 prompt + ``state_token_budget`` + ``feedback_token_budget``: the context does
not grow with the number of rounds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.ballot import ClaimCheck, Critique
from schemas.base import AnswerFormat
from schemas.limits import STATE_ITEMS
from schemas.propose import ConsensusState, ItemKind, ProposalSubmitted, StateItem
from services.core.answers import normalize_answer
from services.core.fencing import fence, state_item
from services.core.tokens import estimate_tokens, shorten_middle, truncate_to_tokens

# Tokens of the state budget kept for what a later round's prompt adds around the state:
# the state's header, the fence notice, the longer instructions and the seat's own previous
# answer (capped at PREVIOUS_ANSWER_TOKENS) in its fence: 143 tokens at most as measured,
# against the 168 this and FEEDBACK_RESERVE keep. Each item's own fence is counted in its
# tokens. tests/unit/system/test_context_bound.py holds the prompts to it, at the worst case too.
FRAME_RESERVE = 160
FEEDBACK_RESERVE = 8
ALTERNATIVE_SHARE = 0.25  # a non-winner item may take at most this share of the budget
EXCERPT_TOKENS = 160  # what the state keeps of a proposal's text (besides its answer)
ANSWER_TOKENS = 32


@dataclass(frozen=True)
class RoundOutcome:
    round: int
    proposals: Sequence[ProposalSubmitted]  # the round's ok proposals
    support: Mapping[str, float]  # proposal id -> net support (mean vote, in [−1, 1])
    controversy: Mapping[str, float]
    winner: str | None
    critiques: Sequence[Critique]
    claims: Sequence[ClaimCheck]
    answer_format: AnswerFormat


@dataclass(frozen=True)
class GateConfig:
    gamma: float
    state_token_budget: int
    feedback_token_budget: int
    floor: float = 0.05


def support(net_support: Mapping[str, float]) -> dict[str, float]:
    """Net support clipped to [0, 1] (a NaN counts as none)."""
    return {pid: min(max(v, 0.0), 1.0) if v == v else 0.0 for pid, v in net_support.items()}


def proposal_text(proposal: ProposalSubmitted) -> str:
    """What the state keeps of a proposal: its answer and a short excerpt of its text."""
    excerpt = shorten_middle(proposal.content.strip(), EXCERPT_TOKENS)
    if proposal.extracted_answer is None:
        return excerpt
    return f"Answer: {truncate_to_tokens(proposal.extracted_answer, ANSWER_TOKENS)}\n{excerpt}"


def rendered_tokens(kind: str, text: str) -> int:
    return estimate_tokens(state_item(kind, text) + "\n")


def item(
    kind: ItemKind,
    text: str,
    retention: float,
    *,
    answer: str | None = None,
    source: str | None = None,
    round_number: int = 0,
    support: float = 0.0,
) -> StateItem:
    return StateItem(
        kind=kind,
        text=text,
        retention=retention,
        tokens=rendered_tokens(kind, text),
        answer=answer,
        source=source,
        round=round_number,
        support=support,
    )


def fold(previous: ConsensusState, outcome: RoundOutcome, config: GateConfig) -> ConsensusState:
    gamma = config.gamma
    items: list[StateItem] = [
        item(
            "alternative" if old.kind == "winner" else old.kind,
            old.text,
            gamma * old.retention,
            answer=old.answer,
            source=old.source,
            round_number=old.round,
            support=old.support,
        )
        for old in previous.items
    ]
    sup = support(outcome.support)
    by_id = {p.proposal_id: p for p in outcome.proposals}
    for pid, proposal in by_id.items():
        kind: ItemKind = "winner" if pid == outcome.winner else "alternative"
        items.append(
            item(
                kind,
                proposal_text(proposal),
                (1 - gamma) * sup.get(pid, 0.0),
                answer=proposal.extracted_answer,
                source=pid,
                round_number=outcome.round,
                support=sup.get(pid, 0.0),
            )
        )

    def concern(pid: str) -> float:
        return (1 - gamma) * min(1.0, sup.get(pid, 0.0) + outcome.controversy.get(pid, 0.0))

    for critique in outcome.critiques:
        if critique.weight < 0 and critique.proposal_id in by_id:
            target = by_id[critique.proposal_id].extracted_answer or "a candidate"
            items.append(
                item(
                    "critique",
                    f"On the answer {target}: {critique.text}",
                    concern(critique.proposal_id),
                    source=critique.proposal_id,
                    round_number=outcome.round,
                )
            )
    for claim in outcome.claims:
        if claim.verdict in ("contested", "wrong") and claim.proposal_id in by_id:
            items.append(
                item(
                    "claim",
                    f'"{claim.quote}" was judged {claim.verdict}',
                    concern(claim.proposal_id),
                    source=claim.proposal_id,
                    round_number=outcome.round,
                )
            )
    merged = merge(items, outcome.answer_format)
    kept = [i for i in merged if i.kind == "winner" or i.retention >= config.floor]
    return pack(kept, config.state_token_budget, outcome.round)


def _key(state_item: StateItem, answer_format: AnswerFormat) -> tuple[str, ...]:
    if state_item.kind in ("winner", "alternative") and state_item.answer:
        normalized = normalize_answer(state_item.answer, answer_format) or state_item.answer
        return ("answer", normalized)
    text = re.sub(r"\s+", " ", state_item.text.strip().lower())
    kind = "answer" if state_item.kind in ("winner", "alternative") else state_item.kind
    return (kind, text)


def merge(items: Sequence[StateItem], answer_format: AnswerFormat) -> list[StateItem]:
    """Near-duplicates become one item carrying the summed retention; the newer text (the
    winner's, within a round) and the ``winner`` kind, if either had it, are kept."""
    merged: dict[tuple[str, ...], StateItem] = {}
    for it in items:
        key = _key(it, answer_format)
        seen = merged.get(key)
        if seen is None:
            merged[key] = it
            continue
        # Within one round the winner's own text stands for the merged answer, so that the
        # winner item's text and source name the same proposal.
        rank_it, rank_seen = (it.round, it.kind == "winner"), (seen.round, seen.kind == "winner")
        newer = it if rank_it >= rank_seen else seen
        kind: ItemKind = "winner" if "winner" in (it.kind, seen.kind) else newer.kind
        merged[key] = item(
            kind,
            newer.text,
            it.retention + seen.retention,
            answer=newer.answer,
            source=newer.source
            if kind != "winner"
            else (it.source if it.kind == "winner" else seen.source),
            round_number=newer.round,
            support=max(it.support, seen.support),
        )
    return list(merged.values())


def pack(items: Sequence[StateItem], budget: int, round_number: int) -> ConsensusState:
    room = max(budget - FRAME_RESERVE, 0)
    cap = max(int(room * ALTERNATIVE_SHARE), 1)
    winner = next((i for i in items if i.kind == "winner"), None)
    out: list[StateItem] = []
    used = 0
    if winner is not None:
        fitted = _fit(winner, room)
        if fitted is not None:
            out.append(fitted)
            used += fitted.tokens
    rest = sorted(
        (i for i in items if i is not winner),
        key=lambda i: (-i.retention, -i.round, i.kind, i.text),
    )
    for candidate in rest:
        if len(out) >= STATE_ITEMS:
            break
        fitted = _fit(candidate, min(cap, room - used))
        if fitted is not None and used + fitted.tokens <= room:
            out.append(fitted)
            used += fitted.tokens
    return ConsensusState(round=round_number, items=tuple(out), tokens=used)


def _fit(state_item: StateItem, budget: int) -> StateItem | None:
    if state_item.tokens <= budget:
        return state_item
    overhead = rendered_tokens(state_item.kind, "")
    text = truncate_to_tokens(state_item.text, budget - overhead)
    if not text:
        return None
    cut = item(
        state_item.kind,
        text,
        state_item.retention,
        answer=state_item.answer,
        source=state_item.source,
        round_number=state_item.round,
        support=state_item.support,
    )
    while cut.tokens > budget and text:
        text = truncate_to_tokens(state_item.text, estimate_tokens(text) - 1)
        cut = item(
            state_item.kind,
            text,
            state_item.retention,
            answer=state_item.answer,
            source=state_item.source,
            round_number=state_item.round,
            support=state_item.support,
        )
    return cut if text and cut.tokens <= budget else None


def feedback(
    critiques: Sequence[Critique],
    claims: Sequence[ClaimCheck],
    seat_of: Mapping[str, int],
    budget: int,
) -> dict[int, tuple[str, ...]]:
    """Per seat, the critiques of its own proposal (most negative first), within budget."""
    lines: dict[int, list[tuple[float, str]]] = {}
    for critique in critiques:
        seat = seat_of.get(critique.proposal_id)
        if seat is not None and critique.weight < 0:
            lines.setdefault(seat, []).append((critique.weight, critique.text))
    for claim in claims:
        seat = seat_of.get(claim.proposal_id)
        if seat is not None and claim.verdict in ("contested", "wrong"):
            lines.setdefault(seat, []).append((0.0, f'"{claim.quote}" was judged {claim.verdict}'))
    room = max(budget - FEEDBACK_RESERVE, 0)
    out: dict[int, tuple[str, ...]] = {}
    for seat, entries in lines.items():
        kept: list[str] = []
        used = 0
        for _, text in sorted(entries, key=lambda e: e[0]):
            cost = estimate_tokens(fence("critique", text) + "\n")
            if text in kept or used + cost > room:
                continue
            kept.append(text)
            used += cost
        if kept:
            out[seat] = tuple(kept)
    return out
