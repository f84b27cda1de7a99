"""A runner process's entry under ``$NSED_HOME/runners/`` while it runs, so that the stack
in that home can list it and stop it (``nsed stack status | up | down``), whether
supervisord started it or a person did (``nsed agent run``).

One JSON file per process, ``<agent_id>.<instance_id>.json``, written when the runner
starts and removed when it stops:

    {"pid", "agent_id", "instance_id", "nats_url", "pool", "log", "supervised", "started_at"}

A killed runner's file stays behind: a reader believes an entry only while its pid still
runs an agent runner (``alive``), since the pid may have been reused since.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

DIRECTORY = "runners"


class RunnerEntry(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    agent_id: str
    instance_id: str
    nats_url: str
    pool: str = ""
    log: str = ""  # the runner's own log file; empty under supervisord (its program log)
    supervised: bool = False  # started by supervisord (a stack's program), not by hand
    started_at: float = 0.0


_decoder = msgspec.json.Decoder(RunnerEntry)


def directory(home: str | Path) -> Path:
    return Path(home) / DIRECTORY


@contextlib.contextmanager
def registered(home: str | Path, entry: RunnerEntry) -> Iterator[Path]:
    """The entry's file, for as long as the runner runs."""
    folder = directory(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{entry.agent_id}.{entry.instance_id}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(msgspec.json.encode(entry))
    temporary.replace(path)  # a reader never sees half an entry
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def entries(home: str | Path) -> list[tuple[Path, RunnerEntry]]:
    """Every entry on disk, stale ones included (see ``alive``)."""
    found = []
    for path in sorted(directory(home).glob("*.json")):
        try:
            found.append((path, _decoder.decode(path.read_bytes())))
        except (OSError, msgspec.DecodeError):
            continue  # removed while we read, or not an entry
    return found


def alive(entry: RunnerEntry) -> bool:
    """Whether the entry's pid still runs an agent runner (not a zombie, not a reused pid)."""
    try:
        state = Path(f"/proc/{entry.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = Path(f"/proc/{entry.pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return _signalable(entry.pid)  # no /proc (not Linux): the pid alone
    if state == "Z":
        return False
    words = [a.decode(errors="replace") for a in argv]
    return "services.agent_runner" in words or _is_agent_run(words)


def _is_agent_run(words: list[str]) -> bool:
    """``nsed agent run …`` (the console script, or ``-m services.cli.main``)."""
    return any(words[i : i + 2] == ["agent", "run"] for i in range(len(words) - 1))


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
