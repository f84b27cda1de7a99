"""Which NATS principal a process connects as, and with which key.

Consumes the process's principal (``broker``, ``agent-<id>``, ``admin``, …), ``NSED_HOME``
and ``NSED_NATS_NKEY``. Emits the options ``nats.connect`` takes: the key file (nats-py
signs the server's challenge with it) and the principal's own inbox prefix, the only one
the server lets it subscribe to, so that no principal hears another's replies. A process
with no key (``NSED_NATS_NKEY`` unset and no ``$NSED_HOME/auth/<principal>.nk``) connects
anonymously: a server without authorization takes it as it is, and one with it (``nsed
stack up``) treats it as the ``client`` principal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services._runtime.errors import ConfigError

ENV = "NSED_NATS_NKEY"
AUTH_DIR = "auth"
KEY_SUFFIX = ".nk"
ANONYMOUS = "client"  # what the server calls a connection without credentials
ADMIN = "admin"  # the CLI, the stack launcher and the benchmarks


def inbox_prefix(principal: str) -> str:
    """The prefix of every reply subject of ``principal``'s requests (its own inbox)."""
    return "_INBOX" if principal == ANONYMOUS else f"_INBOX_{principal}"


def auth_dir(home: str | Path) -> Path:
    return Path(home) / AUTH_DIR


def key_file(home: str | Path, principal: str) -> Path:
    return auth_dir(home) / f"{principal}{KEY_SUFFIX}"


def agent_principal(agent_id: str) -> str:
    return f"agent-{agent_id}"


@dataclass(frozen=True)
class Credentials:
    principal: str
    seed: Path | None  # None: anonymous

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (none when anonymous)."""
        if self.seed is None:
            return {}
        return {"nkeys_seed": str(self.seed), "inbox_prefix": inbox_prefix(self.principal)}


def for_principal(
    principal: str, home: str | Path, env: Mapping[str, str] | None = None
) -> Credentials:
    """``NSED_NATS_NKEY`` if set (a missing file is a ``ConfigError``), else the principal's
    default key file if it exists, else anonymous."""
    env = os.environ if env is None else env
    given = env.get(ENV, "").strip()
    if given:
        path = Path(given)
        if not path.is_file():
            raise ConfigError(f"{ENV}={given!r}: no such key file")
        return Credentials(principal, path)
    default = key_file(home, principal)
    return Credentials(principal, default if default.is_file() else None)
