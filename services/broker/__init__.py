"""The broker: task intake, team selection, and the dispatch of every round.

Consumes ``nsed.tasks`` and ``nsed.events.*.continued``; emits ``TeamSelected``,
``ProposeRequested`` per seat, the phase timers, and ``DeliberationConcluded`` when no
team can serve a task.
"""
