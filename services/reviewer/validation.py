"""Ballot validation (pure, §5.2): a ``ReviewSubmitted`` and its packet → ``Ballot``.

- weights are clamped to [−100, 100] (a non-finite weight drops its entry);
- unknown or duplicate labels are dropped (the first entry for a label wins);
- a label the review left out counts as weight 0;
- a claim's quote must occur in the candidate text as shown, after whitespace and
  quote-mark normalisation; otherwise the claim is dropped and counted;
- a ballot with no valid entry is invalid;
- a ballot is invalid when it was not written about its candidates (``template_reasons``):
  an entry's justification is template text (empty, a placeholder such as ``<why>``, or
  copied from the review prompt's own instructions or example), every entry has the same
  justification while the candidates differ, or no claim quotes its candidate (all its
  quotes ungrounded, or none given: every review prompt asks for them). A grammar makes a
  small model's output parse; these make parsing not count as reviewing.

Each reason is a note on the ballot.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

from schemas.ballot import Ballot, ClaimCheck, Critique
from schemas.review import ReviewEntry, ReviewSubmitted
from services.agent_runner.prompts import review_template

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
# "<why>", "<verbatim text from the candidate>", "[reason]", "--": a slot, not a text.
_PLACEHOLDER = re.compile(r"<[^<>]{0,80}>|\[[^\[\]]{0,80}\]|\W*")
# A justification at least this long found inside the prompt's fixed text was copied from it
# (shorter ones, "wrong" or "verified", are words any review may use).
MIN_COPIED_CHARS = 12


@functools.lru_cache(maxsize=512)
def normalize_quote(text: str) -> str:
    # Cached: each candidate's text is normalised for every entry and every ballot about it.
    return _SPACE.sub(" ", text.translate(_QUOTES)).strip()


def _folded(text: str) -> str:
    return normalize_quote(text).lower().strip(" .")


_TEMPLATE = _folded(review_template())


def template_text(justification: str) -> str | None:
    """Why ``justification`` is template text rather than a judgement, or None."""
    text = _folded(justification)
    if not text:
        return "empty"
    if _PLACEHOLDER.fullmatch(text):
        return f"a placeholder ({text[:40]!r})"
    if len(text) >= MIN_COPIED_CHARS and text in _TEMPLATE:
        return "copied from the review prompt"
    return None


def template_reasons(
    counted: list[tuple[ReviewEntry, str]], shown: Mapping[str, str], grounded: int
) -> list[str]:
    """Why a ballot whose ``counted`` (entry, proposal id) pairs quote ``grounded`` claims
    from their candidates is not a review of them; empty when it is one."""
    reasons = []
    for entry, _ in counted:
        why = template_text(entry.justification)
        if why is not None:
            reasons.append(f"justification for {entry.label} is template text: {why}")
    texts = {_folded(entry.justification) for entry, _ in counted}
    candidates = {normalize_quote(shown.get(pid, "")) for _, pid in counted}
    if len(counted) >= 2 and len(texts) == 1 and len(candidates) > 1 and not reasons:
        reasons.append("the same justification for every candidate")
    if not grounded:
        reasons.append("no claim quotes its candidate")
    return reasons


def validate_ballot(
    review: ReviewSubmitted,
    packet: Mapping[str, str],
    shown: Mapping[str, str],
    *,
    message_id: str,
) -> Ballot:
    """``packet``: label → proposal id; ``shown``: proposal id → the text the reviewer saw."""
    if review.status != "ok":
        reason = f"review {review.status}: {review.error or 'no reason given'}"
        return absent_ballot(
            review.task_id, review.round, review.seat, review.agent_id, reason, message_id
        )
    weights: dict[str, float] = dict.fromkeys(packet.values(), 0.0)
    seen: set[str] = set()
    critiques: list[Critique] = []
    claims: list[ClaimCheck] = []
    counted: list[tuple[ReviewEntry, str]] = []
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
        counted.append((entry, pid))
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
    else:
        reasons = template_reasons(counted, shown, len(claims))
        notes.extend(reasons)
        valid = not reasons
    return Ballot(
        task_id=review.task_id,
        round=review.round,
        message_id=message_id,
        seat=review.seat,
        agent_id=review.agent_id,
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
) -> Ballot:
    """The ballot of a seat that does not (or did not in time) vote, saying why."""
    return Ballot(
        task_id=task_id,
        round=round_number,
        message_id=message_id,
        seat=seat,
        agent_id=agent_id,
        valid=False,
        notes=(reason,),
    )
