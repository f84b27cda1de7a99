"""A real ``nats-server`` on a free loopback port (the project's own ``NatsProcess``)."""

from __future__ import annotations

from services.stack.natsserver import NatsProcess as NatsServer
from services.stack.natsserver import free_port

__all__ = ["NatsServer", "free_port"]
