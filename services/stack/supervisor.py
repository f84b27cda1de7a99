"""supervisord as the local process manager: render its config, start it, ask it, stop it.

``render`` fills ``infra/supervisor/*.tmpl`` for one pool, its model servers and the NATS
node(s) (``services.stack.cluster``); ``Supervisor`` talks to a running supervisord over
its XML-RPC unix socket.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from services._runtime import natsurls
from services.agent_runner.config import PoolConfig
from services.stack import cluster
from services.stack.model_servers import ModelServer

SERVICES = ("broker", "reviewer", "voter", "gate", "gateway")  # plus one runner per agent


@dataclass(frozen=True)
class StackPaths:
    root: Path  # the project checkout
    home: Path  # NSED_HOME, absolute

    @property
    def config(self) -> Path:
        return self.home / "supervisord.conf"

    @property
    def pidfile(self) -> Path:
        return self.home / "supervisord.pid"

    @property
    def socket(self) -> Path:
        return self.home / "supervisor.sock"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def nats_config(self) -> Path:
        """The servers' config: the checkout's settings and the stack's authorization."""
        return self.home / "nats-server.conf"

    @property
    def nats_settings(self) -> Path:
        return self.root / "infra" / "nats" / "nats-server.conf"


def nats_listen(url: str) -> str:
    host, port = natsurls.listener(natsurls.split(url)[0])
    return f"{host}:{port}"


_NATS_URL = re.compile(r'NSED_NATS_URL="([^"]*)"')
_GATEWAY = re.compile(r'NSED_GATEWAY_HOST="([^"]*)",NSED_GATEWAY_PORT="(\d+)"')


def stack_nats_url(paths: StackPaths) -> str | None:
    """The NATS URL the stack in ``paths.home`` gave its processes (from the config it was
    started with), or None when there is no such config."""
    try:
        match = _NATS_URL.search(paths.config.read_text())
    except OSError:
        return None
    return match.group(1) if match else None


def stack_gateway_url(paths: StackPaths) -> str | None:
    """The gateway's base URL in the stack in ``paths.home`` (None: no such config)."""
    try:
        match = _GATEWAY.search(paths.config.read_text())
    except OSError:
        return None
    return f"http://{match.group(1)}:{match.group(2)}" if match else None


def same_server(a: str, b: str) -> bool:
    """Whether two NATS settings (one URL each, or a cluster's) reach a common listener
    (``localhost`` is the loopback)."""
    return natsurls.overlap(a, b)


def render(
    paths: StackPaths,
    pool: PoolConfig,
    pool_path: Path,
    nats_url: str,
    servers: Sequence[ModelServer] = (),
    nodes: Sequence[cluster.Node] = (),
    gateway: tuple[str, int] = ("127.0.0.1", 8080),
) -> str:
    """The config for one pool; ``nodes`` are the NATS servers to run (default: one, on
    ``nats_url``). Every process is given every node's URL. ``gateway`` is where the
    gateway listens (host, port), written into its environment so that ``make status`` can
    say it."""
    nodes = nodes or cluster.plan([nats_url], [], paths.home)
    bindir = Path(sys.executable).parent
    python = sys.executable
    urls = natsurls.join([node.url for node in nodes]) if len(nodes) > 1 else nats_url
    values = {
        "home": str(paths.home),
        "root": str(paths.root),
        "instance": str(os.getpid()),
        "nats_server": str(bindir / "nats-server"),
        "nats_config": str(paths.nats_config),
        "nats_url": urls,
        "replicas": str(cluster.replicas(nodes)),
    }
    infra = paths.root / "infra" / "supervisor"
    text = Template((infra / "supervisord.conf.tmpl").read_text()).substitute(values)
    node_program = Template((infra / "nats.conf.tmpl").read_text())
    for node in nodes:
        args = "".join(f" {arg}" for arg in cluster.server_args(node, nodes))
        text += node_program.substitute(
            values, name=node.name, listen=node.listen, store=str(node.store), cluster_args=args
        )
    program = Template((infra / "program.conf.tmpl").read_text())
    fixed = {**values, "extra_env": "", "autostart": "true"}
    served_by = {agent: s for s in servers for agent in s.spec.agents}
    for model_server in servers:
        text += program.substitute(
            fixed, name=model_server.spec.program, command=model_server.command(python), priority=15
        )
    listen = f',NSED_GATEWAY_HOST="{gateway[0]}",NSED_GATEWAY_PORT="{gateway[1]}"'
    for service in SERVICES:
        settings = {**fixed, "extra_env": listen} if service == "gateway" else fixed
        text += program.substitute(
            settings, name=service, command=f"{python} -m services.{service}", priority=20
        )
    for agent in pool.agents:
        command = f"{python} -m services.agent_runner {pool_path} --agent {agent.id}"
        server = served_by.get(agent.id)
        settings = fixed
        if server is not None:  # started by `nsed stack up` once its model server answers
            model_url = f',NSED_AGENT_RUNNER_MODEL_URL="{server.base_url}"'
            settings = {**fixed, "autostart": "false", "extra_env": model_url}
        text += program.substitute(settings, name=f"agent-{agent.id}", command=command, priority=30)
    return text


class Supervisor:
    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths

    def pid(self) -> int | None:
        """supervisord's pid if it is running, else None (a stale pidfile is ignored)."""
        try:
            pid = int(self.paths.pidfile.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

    def _call(self, method: str, *args: Any) -> Any:
        """One XML-RPC call on supervisord's unix socket, closing the socket after it."""
        # supervisor leaves its transport's __init__ unannotated; the rest is xmlrpc's.
        transport: xmlrpc.client.Transport = SupervisorTransport(  # type: ignore[no-untyped-call]
            None, None, serverurl=f"unix://{self.paths.socket}"
        )
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        try:
            return getattr(proxy.supervisor, method)(*args)
        finally:
            transport.close()

    def start(self) -> None:
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        binary = Path(sys.executable).parent / "supervisord"
        subprocess.run([str(binary), "-c", str(self.paths.config)], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.pid() is not None and self.paths.socket.exists():
                return
            time.sleep(0.1)
        raise RuntimeError(f"supervisord did not start; see {self.paths.logs}/supervisord.log")

    def start_program(self, name: str) -> None:
        """Start a program that does not autostart; returns once supervisord spawned it."""
        self._call("startProcess", name, False)

    def stop_program(self, name: str) -> None:
        """Stop one program (it stays stopped); returns once it has exited."""
        self._call("stopProcess", name, True)

    def processes(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("getAllProcessInfo"))

    def nats_pids(self) -> list[int]:
        """The running NATS servers' pids (``nats``, or ``nats-1``… in a cluster)."""
        return [
            int(p["pid"])
            for p in self.processes()
            if p.get("pid") and (p["name"] == "nats" or p["name"].startswith("nats-"))
        ]

    def shutdown(self, timeout: float = 60.0) -> list[str]:
        """Stop every program and supervisord; returns the processes that had to be killed
        (``name (pid N)``), empty when every one exited on its own.

        supervisord removes its pidfile before its interpreter exits, so "no pidfile" is not
        "exited": it is waited for like its programs, by pid, and only a process still alive
        when ``timeout`` runs out is killed (and named)."""
        pid = self.pid()
        if pid is None:
            return []
        names = {p["pid"]: p["name"] for p in self.processes() if p.get("pid")}
        everyone = {pid: "supervisord", **names}
        self._call("shutdown")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(p) for p in everyone):
            time.sleep(0.1)
        killed = []
        for child, name in everyone.items():
            if _alive(child):
                os.killpg(child, signal.SIGKILL) if _is_group(child) else os.kill(
                    child, signal.SIGKILL
                )
                killed.append(f"{name} (pid {child})")
        return killed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return True
    return status != "Z"


def _is_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
