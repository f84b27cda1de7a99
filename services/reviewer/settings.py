"""Reviewer settings (``NSED_REVIEWER_*``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from schemas.limits import CHARS_PER_TOKEN, EXCERPT_CHARS
from services._runtime.settings import ServiceSettings

# A reviewer is shown an excerpt of each candidate's reasoning, and the record keeps no
# more than that: at most what a ``Candidate.reasoning_excerpt`` may carry.
ExcerptTokens = Annotated[int, msgspec.Meta(ge=0, le=EXCERPT_CHARS // CHARS_PER_TOKEN)]


class ReviewerSettings(ServiceSettings, frozen=True, kw_only=True):
    reasoning_excerpt_tokens: ExcerptTokens = 200
