"""Reviewer routes: proposals and the reviewer's (proposing) phase timers."""

from __future__ import annotations

from schemas.outputs import ReviewStep, members
from schemas.propose import ProposalSubmitted
from services._runtime.route import Route, on_delivery, timer_route
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
        timer_route("reviewer", handlers.on_timer, deps, members(ReviewStep)),
    )
