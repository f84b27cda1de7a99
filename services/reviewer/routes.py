"""Reviewer routes: proposals, reviews and the reviewer's phase timers."""

from __future__ import annotations

from functools import partial

from schemas import subjects
from schemas.ballot import BallotAccepted
from schemas.propose import ProposalSubmitted
from schemas.review import ReviewRequested, ReviewSubmitted
from schemas.timers import PhaseDue
from services._runtime.route import Route
from services.reviewer import handlers
from services.reviewer.handlers import ReviewerDeps


def routes(deps: ReviewerDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="reviewer-proposals",
            consumes=(ProposalSubmitted,),
            handler=partial(handlers.on_proposal, deps=deps),
            emits=(ReviewRequested, BallotAccepted, PhaseDue),
        ),
        Route(
            name="reviewer-reviews",
            consumes=(ReviewSubmitted,),
            handler=partial(handlers.on_review, deps=deps),
            emits=(BallotAccepted,),
        ),
        Route(
            name="reviewer-timers",
            consumes=(PhaseDue,),
            handler=partial(handlers.on_timer, deps=deps),
            emits=(ReviewRequested, BallotAccepted, PhaseDue),
            filter_subject=subjects.filter_for(PhaseDue, owner="reviewer"),
            max_deliver=-1,  # a timer is naked until it is due
        ),
    )
