"""A private stack under supervisord, exactly as ``make up`` runs it, for the benchmarks
that kill its processes or watch their memory.

Consumes a pool file, a NATS cluster size and extra environment for the stack's processes.
Runs ``nsed stack up --no-demo`` with ``NSED_HOME`` in a temporary directory, NATS and the
gateway on free loopback ports; yields a ``SupervisedBench``: the stack's NATS URL and
supervisord's process table (program → pid), with ``kill9`` to kill one program's process.
On the way out it stops every process it started (``nsed stack down``'s own shutdown) and
deletes the directory, unless ``keep`` says to keep it (its logs, for a failed run's
post-mortem).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.bench.harness import DEFAULT_POOL, ROOT
from services.stack.natsserver import free_port
from services.stack.supervisor import StackPaths, Supervisor

UP_TIMEOUT_S = 240.0
SHUTDOWN_TIMEOUT_S = 30.0


def is_nats(program: str) -> bool:
    """supervisord's NATS programs: ``nats`` alone, ``nats-1``… in a cluster."""
    return program == "nats" or program.startswith("nats-")


@dataclass
class SupervisedBench:
    url: str  # every node's client URL, comma-separated (as NSED_NATS_URL takes them)
    home: Path
    supervisor: Supervisor

    async def running(self) -> dict[str, int]:
        """Every program supervisord reports RUNNING, with its pid."""
        table = await asyncio.to_thread(self.supervisor.processes)
        return {p["name"]: int(p["pid"]) for p in table if p["statename"] == "RUNNING"}

    async def programs(self) -> list[str]:
        return [p["name"] for p in await asyncio.to_thread(self.supervisor.processes)]

    @staticmethod
    def kill9(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it died on its own meanwhile
            os.kill(pid, signal.SIGKILL)

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def _urls(cluster: int) -> str:
    return ",".join(f"nats://127.0.0.1:{free_port()}" for _ in range(cluster))


async def _stack_command(env: Mapping[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "stack", *args,
        cwd=ROOT, env=dict(env),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), UP_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, f"nsed stack {' '.join(args)} did not finish in {UP_TIMEOUT_S:.0f}s"
    return proc.returncode or 0, err.decode(errors="replace")


@contextlib.asynccontextmanager
async def supervised_stack(
    pool: Path = DEFAULT_POOL,
    *,
    cluster: int = 1,
    env: Mapping[str, str] | None = None,
    keep: Callable[[], bool] = lambda: False,
) -> AsyncIterator[SupervisedBench]:
    """``keep()`` is asked on the way out: True leaves the directory (and says where)."""
    tmp = Path(tempfile.mkdtemp(prefix="nsed-bench-"))
    home = tmp / "home"
    url = _urls(cluster)
    full = {**os.environ, **(env or {}), "NSED_HOME": str(home), "NSED_NATS_URL": url,
            "NSED_GATEWAY_PORT": str(free_port())}  # fmt: skip
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    supervisor = Supervisor(StackPaths(root=ROOT, home=home))
    args = ["up", "--no-demo", "--pool", str(pool)]
    if cluster > 1:
        args += ["--cluster", str(cluster)]
    try:
        code, err = await _stack_command(full, *args)
        if code != 0:
            raise RuntimeError(f"nsed stack up failed ({code}): {err.strip()[-2000:]}")
        yield SupervisedBench(url=url, home=home, supervisor=supervisor)
    finally:
        if supervisor.pid() is not None:
            await asyncio.to_thread(supervisor.shutdown, SHUTDOWN_TIMEOUT_S)
        if keep():
            print(f"kept the stack's directory: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
