"""Voter settings (``NSED_VOTER_*``)."""

from __future__ import annotations

from services._runtime.settings import AtLeastOne, ServiceSettings


class VoterSettings(ServiceSettings, frozen=True, kw_only=True):
    quorum_proposals: AtLeastOne = 2
    quorum_ballots: AtLeastOne = 2
