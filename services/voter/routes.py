"""Voter routes: reviews, ``VotingOpened`` and the voter's (reviewing) phase timers → tally."""

from __future__ import annotations

from schemas import subjects
from schemas.ballot import VotingOpened
from schemas.review import ReviewSubmitted
from schemas.tally import TallyComputed
from schemas.timers import PhaseDue
from services._runtime.route import Route, on_delivery, on_message
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
        Route(
            name="voter-timers",
            consumes=(PhaseDue,),
            handler=on_message(handlers.on_timer, deps),
            emits=(TallyComputed,),
            filter_subject=subjects.filter_for(PhaseDue, owner="voter"),
            max_deliver=-1,  # a timer is naked until it is due
        ),
    )
