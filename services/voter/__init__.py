"""The voter: the ballot box and the quadratic-voting tally of §5.3.

Consumes ``ReviewSubmitted`` (each validated into its seat's ballot in the record),
``VotingOpened`` (a round nobody reviews) and its reviewing phase timers; emits the round's
``TallyComputed``, with every ballot, once every seat of the round has one. It owns the
reviewing and voting phases of the record.
"""
