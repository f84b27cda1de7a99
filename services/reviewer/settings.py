"""Reviewer settings (``NSED_REVIEWER_*``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings


class ReviewerSettings(ServiceSettings, frozen=True, kw_only=True):
    reasoning_excerpt_tokens: int = 200
