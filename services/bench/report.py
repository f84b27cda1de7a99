"""Printing a benchmark: exactly the JSON with ``--json``, else a readable summary."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
from rich.progress import Progress as Bar


def machine() -> dict[str, Any]:
    """What a report was measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


class Progress:
    def __init__(self, total: int, *, enabled: bool) -> None:
        self.bar: Bar | None = None
        if enabled:
            self.bar = Bar(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("tasks", total=total)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def emit(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    console = Console(highlight=False)
    console.print_json(json.dumps(report))
