"""Ballot validation (pure, §5.2): a ``ReviewSubmitted`` and its packet → ``BallotAccepted``.

- weights are clamped to [−100, 100] (a non-finite weight drops its entry);
- unknown or duplicate labels are dropped (the first entry for a label wins);
- a label the review left out counts as weight 0;
- a claim's quote must occur in the candidate text as shown, after whitespace and
  quote-mark normalisation; otherwise the claim is dropped and counted;
- a ballot with no valid entry is invalid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from schemas.ballot import BallotAccepted, ClaimCheck, Critique
from schemas.review import ReviewSubmitted

WEIGHT_LIMIT = 100.0
_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "«": '"',
        "»": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "`": "'",
    }
)
_SPACE = re.compile(r"\s+")


def normalize_quote(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip()


def validate_ballot(
    review: ReviewSubmitted,
    packet: Mapping[str, str],
    shown: Mapping[str, str],
    *,
    message_id: str,
) -> BallotAccepted:
    """``packet``: label → proposal id; ``shown``: proposal id → the text the reviewer saw."""
    base = {
        "task_id": review.task_id,
        "round": review.round,
        "message_id": message_id,
        "seat": review.seat,
        "agent_id": review.agent_id,
    }
    if review.status != "ok":
        reason = f"review {review.status}: {review.error or 'no reason given'}"
        return BallotAccepted(**base, valid=False, notes=(reason,))  # type: ignore[arg-type]
    weights: dict[str, float] = dict.fromkeys(packet.values(), 0.0)
    seen: set[str] = set()
    critiques: list[Critique] = []
    claims: list[ClaimCheck] = []
    notes: list[str] = []
    dropped = ungrounded = 0
    for entry in review.entries:
        pid = packet.get(entry.label)
        if pid is None:
            dropped += 1
            notes.append(f"unknown label {entry.label!r} dropped")
            continue
        if entry.label in seen:
            dropped += 1
            notes.append(f"duplicate label {entry.label!r} dropped")
            continue
        if not math.isfinite(entry.weight):
            dropped += 1
            notes.append(f"non-finite weight for {entry.label!r} dropped")
            continue
        seen.add(entry.label)
        weight = max(-WEIGHT_LIMIT, min(WEIGHT_LIMIT, entry.weight))
        weights[pid] = weight
        haystack = normalize_quote(shown.get(pid, ""))
        for claim in entry.claims:
            quote = normalize_quote(claim.quote)
            if quote and quote in haystack:
                claims.append(ClaimCheck(proposal_id=pid, quote=claim.quote, verdict=claim.verdict))
            else:
                ungrounded += 1
        if entry.justification.strip():
            critiques.append(
                Critique(proposal_id=pid, weight=weight, text=entry.justification.strip())
            )
    if ungrounded:
        notes.append(f"{ungrounded} claim(s) quoted text not in the candidate")
    valid = bool(seen)
    if not valid:
        notes.append("no valid entry")
    return BallotAccepted(
        **base,  # type: ignore[arg-type]
        valid=valid,
        weights=weights if valid else {},
        critiques=tuple(critiques),
        claims=tuple(claims),
        notes=tuple(notes),
        dropped_entries=dropped,
        ungrounded_quotes=ungrounded,
    )


def absent_ballot(
    task_id: str, round_number: int, seat: int, agent_id: str, reason: str, message_id: str
) -> BallotAccepted:
    """The ballot of a seat that does not (or did not in time) vote, saying why."""
    return BallotAccepted(
        task_id=task_id,
        round=round_number,
        message_id=message_id,
        seat=seat,
        agent_id=agent_id,
        valid=False,
        notes=(reason,),
    )
