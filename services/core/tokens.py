"""The one token estimator used wherever a backend does not report exact counts.

``estimate_tokens`` is ⌈characters / 4⌉, the usual rule of thumb for English text with
BPE tokenizers (it over-counts code and under-counts CJK). Budgets (§5.4) are enforced with
this estimate, so the bound holds by construction whatever the real tokenizer is.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4
TRUNCATION_MARKER = " […truncated]"
PREVIOUS_ANSWER_TOKENS = 32  # a seat's own previous answer, as quoted back to it


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def shorten_middle(text: str, budget: int, marker: str = " […] ") -> str:
    """``text`` within ``budget`` tokens, keeping its start and its end (where a final
    answer usually is) and cutting the middle."""
    if estimate_tokens(text) <= budget:
        return text
    room = budget * CHARS_PER_TOKEN - len(marker)
    if room <= 0:
        return ""
    head = room // 3
    return text[:head] + marker + text[len(text) - (room - head) :]


def truncate_to_tokens(text: str, budget: int, marker: str = TRUNCATION_MARKER) -> str:
    """``text`` cut so that it (with ``marker`` when cut) fits in ``budget`` tokens."""
    if estimate_tokens(text) <= budget:
        return text
    room = budget * CHARS_PER_TOKEN - len(marker)
    if room <= 0:
        return ""
    return text[:room].rstrip() + marker
