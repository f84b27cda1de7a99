"""Reviewer routes: proposals and the reviewer's (proposing) phase timers."""

from __future__ import annotations

from schemas import subjects
from schemas.outputs import ReviewStep, members
from schemas.propose import ProposalSubmitted
from schemas.timers import PhaseDue
from services._runtime.route import Route, on_delivery, on_message
from services.reviewer import handlers
from services.reviewer.handlers import ReviewerDeps


def routes(deps: ReviewerDeps) -> tuple[Route, ...]:
    return (
        Route(
            name="reviewer-proposals",
            consumes=(ProposalSubmitted,),
            handler=on_delivery(handlers.on_proposal, deps),
            emits=members(ReviewStep),
        ),
        Route(
            name="reviewer-timers",
            consumes=(PhaseDue,),
            handler=on_message(handlers.on_timer, deps),
            emits=members(ReviewStep),
            filter_subject=subjects.filter_for(PhaseDue, owner="reviewer"),
            max_deliver=-1,  # a timer is naked until it is due
        ),
    )
