"""The voter: the quadratic-voting tally of §5.3.

Consumes ``BallotAccepted``; emits ``TallyComputed`` once every seat of the round has a
ballot (the reviewer moves the record to ``voting`` at that moment).
"""
