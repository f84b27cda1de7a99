"""Voter routes: ballots → ``on_ballot`` → tally."""

from __future__ import annotations

from functools import partial

from schemas.ballot import BallotAccepted
from schemas.tally import TallyComputed
from services._runtime.route import Route
from services.voter import handlers
from services.voter.handlers import VoterDeps


def routes(deps: VoterDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="voter-ballots",
            consumes=(BallotAccepted,),
            handler=partial(handlers.on_ballot, deps=deps),
            emits=(TallyComputed,),
        ),
    )
