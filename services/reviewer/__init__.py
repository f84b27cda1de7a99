"""The reviewer: the peer-review fabric of §5.2.

Consumes ``ProposalSubmitted`` and its (proposing) phase timers; emits ``ReviewRequested``
per reviewing seat and the reviewing timer, which the voter owns, or, for a round in which
nobody reviews, one ``VotingOpened``. It owns the proposing phase of the record; the voter
takes the reviews.
"""
