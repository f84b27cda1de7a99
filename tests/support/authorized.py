"""A real nats-server under the stack's authorization, and connections as its principals.

``authorized_server`` writes the keys and the authorization block for a set of agents
into a home (``services.stack.auth``, as ``nsed stack up`` does) and starts a server on a
free port with that block. ``Principal`` is one connection as one principal (its key from
the home; anonymous for ``client``) that records what the server refused it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.client import Client

from services._runtime import credentials
from services.stack import auth
from services.stack.permissions import Agent
from tests.support.natsserver import NatsServer
from tests.support.wait import until

DENIED = "permissions violation"
ANSWER_TIMEOUT_S = 5.0


def authorized_server(root: Path, agents: Sequence[Agent]) -> tuple[NatsServer, Path]:
    """A started server that knows ``agents``, and the home holding the keys."""
    home = root / "home"
    auth.write(home, agents)
    config = home / "nats-test.conf"
    config.write_text(f"include ./{credentials.AUTH_DIR}/{auth.CONFIG}\n")
    return NatsServer(root / "nats", args=["-c", str(config)]).start(), home


@dataclass
class Principal:
    name: str
    nc: Client
    errors: list[str] = field(default_factory=list)

    @classmethod
    async def connect(cls, url: str, home: Path, name: str) -> Principal:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())

        if name == credentials.ANONYMOUS:  # no credentials at all (its key is never used)
            identity = credentials.Credentials(name, None)
        else:
            identity = credentials.for_principal(name, home, env={})
            assert identity.seed is not None, f"no key for {name}"
        nc = await nats.connect(url, allow_reconnect=False, error_cb=on_error, **identity.options())
        return cls(name, nc, errors)

    def refused(self, subject: str, verb: str = "publish") -> bool:
        """Whether the server refused ``verb`` ("publish" or "subscription") on ``subject``."""
        wanted = f'{DENIED} for {verb} to "{subject.lower()}"'
        return any(wanted in error for error in self.errors)

    async def publish_refused(self, subject: str, payload: bytes = b"{}") -> bool:
        """Publish once, with a reply inbox, and wait for whichever comes: the server's
        refusal, or an answer (every subject the table knows is a stream's, which acks).
        The refusal may come after a flush's PONG, so a flush is no fence."""
        inbox = self.nc.new_inbox()
        answers = await self.nc.subscribe(inbox, max_msgs=1)
        await self.nc.publish(subject, payload, reply=inbox)
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while not self.refused(subject):
            try:
                await answers.next_msg(timeout=0.05)
                return False
            except nats.errors.TimeoutError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{subject}: neither refused nor answered") from None
        return True

    async def subscribe_refused(self, subject: str) -> bool:
        """Subscribe, and wait (bounded) for the server's refusal."""
        await self.nc.subscribe(subject)
        await until(lambda: self.refused(subject, "subscription"), what=f"refusal of {subject}")
        return True

    async def close(self) -> None:
        await self.nc.close()
