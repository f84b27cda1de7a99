"""Voter routes: ballots → ``on_ballot`` → tally."""

from __future__ import annotations

from schemas.ballot import BallotAccepted
from schemas.tally import TallyComputed
from services._runtime.route import Route, on_message
from services.voter import handlers
from services.voter.handlers import VoterDeps


def routes(deps: VoterDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="voter-ballots",
            consumes=(BallotAccepted,),
            handler=on_message(handlers.on_ballot, deps),
            emits=(TallyComputed,),
        ),
    )
