"""The NSED services as separate processes (as ``make up`` runs them, without supervisord):
start, ``kill -9``, restart, stop. Benchmarks and the end-to-end tests use it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("broker", "reviewer", "voter", "gate")


@dataclass
class ProcessStack:
    url: str
    pool: Path
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def command(self, name: str) -> list[str]:
        if name.startswith("agent-"):
            agent = name.split("#", 1)[0][len("agent-") :]
            return [sys.executable, "-m", "services.agent_runner", str(self.pool), "--agent", agent]
        return [sys.executable, "-m", f"services.{name}"]

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start one process; ``agent-<id>#<n>`` names a further replica of an agent."""
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "NSED_NATS_URL": self.url,
            "PYTHONUNBUFFERED": "1",
            "NSED_ACK_WAIT_S": "2",
            "NSED_HOME": str(self.logs / "home"),
            "NSED_AGENT_RUNNER_LOG_FILE": "none",  # stdout is its log file already
            **self.env,
        }
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                self.command(name), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.procs[name] = proc
        return proc

    def start_all(self, agents: tuple[str, ...], replicas: int = 1) -> None:
        for name in SERVICES:
            self.start(name)
        for agent in agents:
            for n in range(replicas):
                self.start(f"agent-{agent}" if n == 0 else f"agent-{agent}#{n}")

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def terminate(self, name: str, timeout: float = 20.0) -> int:
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )
