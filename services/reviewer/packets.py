"""Review packets (pure): who reviews whom, under which masked label, with what text.

Every seat with an ``ok`` or ``no_answer`` proposal reviews every ``ok`` proposal of the
*other* agents: a proposal that states no answer offers nothing to vote on, but its author
read the question and can still judge the others.
Labels ``Candidate_A``, ``Candidate_B``, … are assigned in an order shuffled per reviewer
by an RNG seeded from (task, round, reviewer seat); the label → proposal map stays in the
record.
Candidate text has the team's agent and model names masked, its lines addressed to the
council removed (``core.instructions``) and its fence tags defanged, and is at most
``CONTENT_CHARS`` long (masking lengthens a text that names a member).
"""

from __future__ import annotations

import functools
import string
from collections.abc import Sequence

from schemas.limits import CHARS_PER_TOKEN, CONTENT_CHARS
from schemas.propose import REVIEWING, ProposalSubmitted
from schemas.review import Candidate
from services.core.fencing import mask_identities, sanitize
from services.core.instructions import drop_instructions
from services.core.rng import seeded
from services.core.tokens import shorten_middle, truncate_to_tokens


def label(index: int) -> str:
    letters = string.ascii_uppercase
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = letters[rem] + name
    return f"Candidate_{name}"


def assign_labels(
    task_id: str, round_number: int, reviewer_seat: int, proposal_ids: Sequence[str]
) -> dict[str, str]:
    """label → proposal id, in an order shuffled for this reviewer alone."""
    order = sorted(proposal_ids)
    seeded(task_id, round_number, reviewer_seat, "labels").shuffle(order)
    return {label(i): pid for i, pid in enumerate(order)}


def build_packets(
    task_id: str, round_number: int, proposals: Sequence[ProposalSubmitted]
) -> dict[int, dict[str, str]]:
    """reviewer seat → its packet (label → proposal id), for seats with an ``ok`` or
    ``no_answer`` proposal and at least one ``ok`` proposal of another agent to review
    (self-exclusion is by agent: a model seated twice never reviews its own other sample)."""
    ok = [p for p in proposals if p.status == "ok"]
    packets: dict[int, dict[str, str]] = {}
    for own in (p for p in proposals if p.status in REVIEWING):
        others = [p.proposal_id for p in ok if p.agent_id != own.agent_id]
        if others:
            packets[own.seat] = assign_labels(task_id, round_number, own.seat, others)
    return packets


def shown_text(proposal: ProposalSubmitted, masked_names: Sequence[str]) -> str:
    """The candidate text exactly as reviewers see it (claims are checked against it)."""
    return _shown(proposal.content, tuple(masked_names))


@functools.lru_cache(maxsize=4096)
def _shown(text: str, names: tuple[str, ...]) -> str:
    # Every reviewer's packet and every ballot's validation need the same view of the same
    # proposal: mask and defang each text once.
    shown = sanitize(drop_instructions(mask_identities(text, list(names))))
    return shorten_middle(shown, CONTENT_CHARS // CHARS_PER_TOKEN)


def candidate(
    label_: str, proposal: ProposalSubmitted, masked_names: Sequence[str], excerpt_tokens: int
) -> Candidate:
    excerpt = ""
    if proposal.reasoning and excerpt_tokens > 0:
        excerpt = truncate_to_tokens(
            _shown(proposal.reasoning, tuple(masked_names)), excerpt_tokens
        )
    return Candidate(
        label=label_, content=shown_text(proposal, masked_names), reasoning_excerpt=excerpt
    )
