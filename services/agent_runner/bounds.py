"""A model's output cut to the message bounds (``schemas/limits.py``), with a note for each cut
(pure).

Consumes a ``ProposalDraft``, an extracted answer or a ``ReviewDraft``; emits it fitted,
and notes such as "content cut from 40213 to 8000 characters (the limit)" that the runner
puts in the message's ``notes`` and its log. A service that receives an over-long message
dead-letters it; the runner's own output is never refused for its size.

A text is cut in the middle: its start and its end, where a final answer is, are kept. A
quote keeps its start, so that it still quotes its candidate; a list keeps its first items.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec

from schemas.limits import (
    ANSWER_CHARS,
    CATEGORIES,
    CLAIMS_PER_ENTRY,
    CONTENT_CHARS,
    ERROR_CHARS,
    JUSTIFICATION_CHARS,
    LABEL_CHARS,
    MAX_READING_TEAM,
    QUOTE_CHARS,
    REASONING_CHARS,
    REVIEW_LABEL_CHARS,
)
from schemas.review import ReviewEntry
from services.agent_runner.backends.base import ProposalDraft, ReviewDraft
from services.core.wording import clip

MARKER = " […] "


def cut_middle(text: str, chars: int) -> str:
    """``text`` in at most ``chars`` characters: its first third and its last two thirds of
    the room, ``MARKER`` between them."""
    if len(text) <= chars:
        return text
    room = chars - len(MARKER)
    if room <= 0:
        return text[:chars]
    head = room // 3
    return text[:head] + MARKER + text[len(text) - (room - head) :]


def _cut_note(field: str, before: int, limit: int) -> str:
    return f"{field} cut from {before} to {limit} characters (the limit)"


def fit_proposal(draft: ProposalDraft) -> tuple[ProposalDraft, list[str]]:
    notes = []
    content, reasoning = draft.content, draft.reasoning
    if len(content) > CONTENT_CHARS:
        notes.append(_cut_note("content", len(content), CONTENT_CHARS))
        content = cut_middle(content, CONTENT_CHARS)
    if reasoning is not None and len(reasoning) > REASONING_CHARS:
        notes.append(_cut_note("reasoning", len(reasoning), REASONING_CHARS))
        reasoning = cut_middle(reasoning, REASONING_CHARS)
    if not notes:
        return draft, notes
    return replace(draft, content=content, reasoning=reasoning), notes


def fit_answer(answer: str | None) -> tuple[str | None, list[str]]:
    if answer is None or len(answer) <= ANSWER_CHARS:
        return answer, []
    return cut_middle(answer, ANSWER_CHARS), [
        _cut_note("extracted answer", len(answer), ANSWER_CHARS)
    ]


def fit_error(error: str) -> str:
    """A failure's reason, as a message carries it (the log keeps all of it)."""
    return clip(error, ERROR_CHARS)


def fit_review(draft: ReviewDraft) -> tuple[ReviewDraft, list[str]]:
    notes = []
    entries = draft.entries
    if len(entries) > MAX_READING_TEAM:
        dropped = len(entries) - MAX_READING_TEAM
        notes.append(f"{dropped} entries past the first {MAX_READING_TEAM} dropped (the limit)")
        entries = entries[:MAX_READING_TEAM]
    counts = {"justification": 0, "claims": 0, "quote": 0, "label": 0, "categories": 0}
    fitted = tuple(_fit_entry(entry, counts) for entry in entries)
    if counts["justification"]:
        notes.append(
            f"{counts['justification']} justification(s) cut to {JUSTIFICATION_CHARS} "
            "characters (the limit)"
        )
    if counts["claims"] or counts["quote"]:
        notes.append(
            f"{counts['claims']} claim(s) past {CLAIMS_PER_ENTRY} per entry dropped, "
            f"{counts['quote']} quote(s) cut to {QUOTE_CHARS} characters (the limits)"
        )
    if counts["label"] or counts["categories"]:
        notes.append(
            f"{counts['label']} label(s) cut to {REVIEW_LABEL_CHARS} characters, "
            f"{counts['categories']} entries' categories cut to {CATEGORIES} (the limits)"
        )
    if not notes:
        return draft, notes
    return replace(draft, entries=fitted), notes


def _fit_entry(entry: ReviewEntry, counts: dict[str, int]) -> ReviewEntry:
    changes: dict[str, Any] = {}
    if len(entry.justification) > JUSTIFICATION_CHARS:
        counts["justification"] += 1
        changes["justification"] = cut_middle(entry.justification, JUSTIFICATION_CHARS)
    claims = entry.claims
    if len(claims) > CLAIMS_PER_ENTRY:
        counts["claims"] += len(claims) - CLAIMS_PER_ENTRY
        claims = claims[:CLAIMS_PER_ENTRY]
    if any(len(c.quote) > QUOTE_CHARS for c in claims):
        counts["quote"] += sum(len(c.quote) > QUOTE_CHARS for c in claims)
        claims = tuple(msgspec.structs.replace(c, quote=c.quote[:QUOTE_CHARS]) for c in claims)
    if claims is not entry.claims:
        changes["claims"] = claims
    if len(entry.label) > REVIEW_LABEL_CHARS:
        counts["label"] += 1
        changes["label"] = entry.label[:REVIEW_LABEL_CHARS]
    categories = entry.categories
    if len(categories) > CATEGORIES or any(len(k) > LABEL_CHARS for k in categories):
        counts["categories"] += 1
        changes["categories"] = {
            k[:LABEL_CHARS]: v for k, v in list(categories.items())[:CATEGORIES]
        }
    return msgspec.structs.replace(entry, **changes) if changes else entry
