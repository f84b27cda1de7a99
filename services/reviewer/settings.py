"""Reviewer settings (``NSED_REVIEWER_*``)."""

from __future__ import annotations

from services._runtime.settings import NonNegativeInt, ServiceSettings


class ReviewerSettings(ServiceSettings, frozen=True, kw_only=True):
    reasoning_excerpt_tokens: NonNegativeInt = 200
