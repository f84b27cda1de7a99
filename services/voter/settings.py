"""Voter settings (``NSED_VOTER_*``)."""

from __future__ import annotations

from services._runtime.settings import ServiceSettings


class VoterSettings(ServiceSettings, frozen=True, kw_only=True):
    quorum_proposals: int = 2
    quorum_ballots: int = 2
