"""Voter routes: reviews, ``VotingOpened`` and the voter's (reviewing) phase timers → tally."""

from __future__ import annotations

from schemas.ballot import VotingOpened
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from services._runtime.route import Route, on_delivery, on_message, timer_route
from services.voter import handlers
from services.voter.handlers import VoterDeps


def routes(deps: VoterDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="voter-reviews",
            consumes=(ReviewSubmitted,),
            handler=on_delivery(handlers.on_review, deps),
            emits=(TallyComputed,),
        ),
        Route(
            name="voter-voting",
            consumes=(VotingOpened,),
            handler=on_message(handlers.on_voting_opened, deps),
            emits=(TallyComputed,),
        ),
        timer_route("voter", handlers.on_timer, deps, (TallyComputed,)),
    )
