"""The gate: the forget gate (§5.4), halting (§5.5) and the result.

Consumes ``TallyComputed`` and the task-deadline timer; emits ``RoundContinued`` (the
bounded consensus state for the next round) or the one ``DeliberationConcluded``.
"""
