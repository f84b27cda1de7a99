"""The reviewer: the peer-review fabric of §5.2.

Consumes ``ProposalSubmitted``, ``ReviewSubmitted`` and its phase timers; emits
``ReviewRequested`` per reviewing seat, one ``BallotAccepted`` per seat and round, and the
review-phase timer. It owns the proposing and reviewing phases of the record.
"""
