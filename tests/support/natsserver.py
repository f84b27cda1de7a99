"""A real ``nats-server`` on a free loopback port (the project's own ``NatsProcess``), and
what a test does to it: ``kill -9``, then a restart on the same port and store."""

from __future__ import annotations

import signal

from services.stack.natsserver import NatsProcess as NatsServer
from services.stack.natsserver import free_port

__all__ = ["NatsServer", "free_port", "kill9", "restart"]


def kill9(server: NatsServer) -> None:
    """SIGKILL: no flush, no goodbye to the clients (their sockets just end)."""
    assert server.proc is not None, "the server is not running"
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.stop()  # nothing left to stop: closes the log file


def restart(server: NatsServer) -> None:
    """Start it again on the same port, with the same JetStream store."""
    server.start()
