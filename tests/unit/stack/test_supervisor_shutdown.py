"""``nsed stack down`` says only what is true: a process counts as killed only if it was
still running when the wait ran out, never because supervisord had removed its pidfile a
moment before its interpreter exited."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.stack.supervisor import StackPaths, Supervisor
from tests.support.wait import until_sync

# What supervisord does when told to shut down: it stops its programs, removes its pidfile
# (options.cleanup), then closes its servers and logger and lets the interpreter exit.
FAKE_SUPERVISORD = """
import os, signal, sys, time
pidfile = sys.argv[1]
linger = float(sys.argv[2])
def shutdown(*_):
    os.unlink(pidfile)
    time.sleep(linger)
    sys.exit(0)
signal.signal(signal.SIGTERM, shutdown)
with open(pidfile + ".tmp", "w") as out:
    out.write(str(os.getpid()))
os.rename(pidfile + ".tmp", pidfile)
while True:
    time.sleep(1)
"""

# A program that stops on SIGTERM, or one that ignores it.
PROGRAM = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


class FakeSupervisor(Supervisor):
    """A supervisord stand-in behind the real ``Supervisor.shutdown``: its XML-RPC calls
    answer from the processes the test started."""

    def __init__(self, paths: StackPaths, main: subprocess.Popen[bytes], programs: dict[str, Any]):
        super().__init__(paths)
        self.main = main
        self.programs = programs

    def _call(self, method: str, *args: Any) -> Any:
        if method == "getAllProcessInfo":
            return [{"name": name, "pid": proc.pid} for name, proc in self.programs.items()]
        assert method == "shutdown"
        for proc in self.programs.values():
            proc.send_signal(signal.SIGTERM)
        self.main.send_signal(signal.SIGTERM)
        return True


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def start_stack(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]], linger: float, program: str
) -> FakeSupervisor:
    paths = StackPaths(root=tmp_path, home=tmp_path)
    main = subprocess.Popen(
        [sys.executable, "-c", FAKE_SUPERVISORD, str(paths.pidfile), str(linger)]
    )
    broker = subprocess.Popen([sys.executable, "-c", PROGRAM, program], stdout=subprocess.PIPE)
    procs += [main, broker]
    assert broker.stdout is not None
    assert broker.stdout.readline() == b"ready\n"
    supervisor = FakeSupervisor(paths, main, {"broker": broker})
    until_sync(lambda: supervisor.pid() == main.pid, timeout=10, what="the fake supervisord")
    return supervisor


def test_down_kills_nothing_when_supervisord_exits_just_after_removing_its_pidfile(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    supervisor = start_stack(tmp_path, started, linger=1.5, program="stop")
    assert supervisor.shutdown(timeout=20) == []
    main, broker = started
    assert main.wait(timeout=10) == 0  # it exited on its own, with status 0
    assert broker.wait(timeout=10) == -signal.SIGTERM


def test_down_names_the_process_it_had_to_kill(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    supervisor = start_stack(tmp_path, started, linger=0.0, program="ignore")
    main, broker = started
    assert supervisor.shutdown(timeout=1.0) == [f"broker (pid {broker.pid})"]
    assert broker.wait(timeout=10) == -signal.SIGKILL
    assert main.wait(timeout=10) == 0
