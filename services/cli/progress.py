"""Live per-round progress of one deliberation, rendered from its events.

``Progress`` prints the lines of ``services.cli.view`` to stderr and keeps a spinner line
with the round's counts when stderr is a terminal.
"""

from __future__ import annotations

import time
from typing import Any

from rich.status import Status

from schemas.gate import RoundContinued
from schemas.team import TeamSelected
from services.cli import client
from services.cli.view import (
    RoundCounts,
    is_simulated,
    lines_for,
    simulated_notice,
    warning_lines,
)


class Progress:
    """Prints what happens to stderr; tells which members a round waits for, how long the
    task has run and what it has cost so far: on the spinner line on a terminal, else in a
    line once a phase has waited ``NOTE_AFTER_S``, and again every ``NOTE_EVERY_S``."""

    NOTE_AFTER_S = 10.0
    NOTE_EVERY_S = 30.0

    def __init__(self, task_id: str, *, enabled: bool, has_reference: bool = False) -> None:
        self.console = client.console(stderr=True)
        self.enabled = enabled
        self.has_reference = has_reference
        self.simulated = False
        self.counts = RoundCounts()
        self.round = 1
        self.deadline_at: float | None = None
        self.warned: set[str] = set()
        self.status: Status | None = None
        self._phase: tuple[int, str] = (1, "proposing")
        self.started = time.time()
        self._phase_since = self.started
        self._noted = 0.0
        self._queued_at = 0.0
        self.in_queue = False  # at the last look, still waiting on NSED_TASKS to start
        if enabled:
            self.console.print(f"task {task_id}")
            if self.console.is_terminal:
                self.status = self.console.status("waiting for the broker…")
                self.status.start()

    def on_event(self, event: Any) -> None:
        if isinstance(event, TeamSelected) and event.deadline_at is not None:
            self.deadline_at = event.deadline_at
        if isinstance(event, RoundContinued):
            self.round = event.next_round
        if isinstance(event, TeamSelected) and self.enabled:
            for warning in warning_lines(event.warnings, self.warned):
                self.console.print(warning, markup=False)
            self.warned.update(event.warnings)
        if is_simulated(event) and not self.simulated:
            self.simulated = True
            for notice in simulated_notice(self.has_reference) if self.enabled else ():
                self.console.print(notice, markup=False, soft_wrap=True)
        lines = lines_for(event, self.counts)  # the counts follow the task even when quiet
        for line in lines if self.enabled else ():
            # Lines carry model and endpoint text: printed as it is, never read as markup.
            self.console.print(line, markup=False, soft_wrap=True)
        self.tick(time.time())

    def tick(self, now: float) -> None:
        phase, waiting = self.counts.waiting(self.round)
        if (self.round, phase) != self._phase:
            self._phase, self._phase_since, self._noted = (self.round, phase), now, 0.0
        if not self.enabled or not self.counts.agents:
            return
        who = ", ".join(waiting) if waiting else "the tally"
        so_far = f"{now - self.started:.0f}s in, ${self.counts.cost_usd:.6f} so far"
        if self.status is not None:
            proposals = self.counts.proposals.get(self.round, 0)
            ballots = self.counts.ballots.get(self.round, 0)
            team = self.counts.team or "?"
            self.status.update(
                f"round {self.round} · {phase} · proposals {proposals}/{team} · "
                f"ballots {ballots}/{team} · waiting for {who} · {so_far}",
            )
            return
        waited = now - self._phase_since
        if waited >= self.NOTE_AFTER_S and now - self._noted >= self.NOTE_EVERY_S:
            self._noted = now
            self.console.print(
                f"round {self.round}: {phase} for {waited:.0f}s, waiting for {who} · {so_far}",
                soft_wrap=True,
            )

    def queued(self, ahead: int | None, now: float) -> None:
        """The task still waits to be started: ``ahead`` tasks before it on the stream, or
        (None) taken by the broker, which starts it when the pool has room."""
        self.in_queue = not self.counts.agents
        if not self.enabled or not self.in_queue:
            return
        where = f"{ahead} task(s) ahead of it" if ahead is not None else "next"
        text = f"queued: {where}, until the agents have room · {now - self.started:.0f}s"
        if self.status is not None:
            self.status.update(text)
        elif not self._queued_at or now - self._queued_at >= self.NOTE_EVERY_S:
            self._queued_at = now
            self.console.print(text, soft_wrap=True)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
