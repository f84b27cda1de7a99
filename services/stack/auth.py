"""The stack's principals on disk: their keys, the server's authorization, the agents enrolled.

Consumes ``NSED_HOME``, the checkout's ``infra/nats/nats-server.conf`` and the agents of
the pool (and of runners started by hand). Emits, under ``$NSED_HOME/auth`` (mode 0700):
one nkey seed per principal, ``<principal>.nk`` (mode 0600, made once and kept: a
restart, or another pool, reuses them), ``agents.json`` (the agents enrolled: the pool's,
then each one a runner started by hand adds; read and replaced under ``.lock``, so runners
enrolling at once lose none of each other's) and ``auth.conf``, the ``authorization``
block and ``no_auth_user`` rendered from the permission table (``permissions``); and
``$NSED_HOME/nats-server.conf``, the checkout's server config with that block included.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import nkeys

from services._runtime.credentials import ANONYMOUS, auth_dir, key_file
from services.stack.permissions import Agent, Grant, table

CONFIG = "auth.conf"
AGENTS = "agents.json"
LOCK = ".lock"  # held while the files above are read and replaced
SEED_BYTES = 32


def public_key(seed: bytes) -> str:
    return str(nkeys.from_seed(bytearray(seed)).public_key.decode())


def new_seed() -> bytes:
    return bytes(nkeys.encode_seed(os.urandom(SEED_BYTES), nkeys.PREFIX_BYTE_USER))


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only, replacing it whole."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def ensure_key(home: str | Path, principal: str) -> str:
    """The principal's public key, its seed made first if it has none."""
    path = key_file(home, principal)
    _private_dir(path.parent)
    if not path.is_file():
        _write_private(path, new_seed())
    return public_key(path.read_bytes().strip())


def render(grants: Mapping[str, Grant], keys: Mapping[str, str]) -> str:
    """The server's ``authorization`` block: one nkey user per principal, the ``client``'s
    being the one that connections without credentials become (``no_auth_user``)."""
    lines = [
        "# Written by `nsed stack up` from the permission table",
        "# (services/stack/permissions.py): edits are lost at the next start.",
        "authorization {",
        "  users = [",
    ]
    for principal, grant in grants.items():
        user = {"nkey": keys[principal], "permissions": _permissions(grant)}
        lines += [f"    # {principal}", f"    {json.dumps(user)}"]
    # A key, not a password: the server warns of plain-text passwords, and a reload that
    # changes no_auth_user fails, so the client's key is kept like every other.
    lines += ["  ]", "}", f"no_auth_user: {json.dumps(keys[ANONYMOUS])}", ""]
    return "\n".join(lines)


def _permissions(grant: Grant) -> dict[str, object]:
    found: dict[str, object] = {
        "publish": {"allow": list(grant.publish)},
        "subscribe": {"allow": list(grant.subscribe)},
    }
    if grant.responses:
        found["allow_responses"] = True
    return found


def load_agents(home: str | Path) -> list[Agent]:
    try:
        raw = json.loads((auth_dir(home) / AGENTS).read_text())
        return [Agent(str(a["agent_id"]), bool(a["simulated"])) for a in raw]
    except (OSError, ValueError, KeyError, TypeError):
        return []


@contextlib.contextmanager
def _locked(home: str | Path) -> Iterator[None]:
    """Hold the stack's authorization files alone: ``nsed stack up`` and runners enrolling
    at the same time each read, change and write them whole, so one must not start from a
    copy the other is about to replace (its change would be lost)."""
    path = _private_dir(auth_dir(home)) / LOCK
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write(home: str | Path, agents: Iterable[Agent]) -> Path:
    """Keys for every principal of a stack running ``agents`` (kept where they exist), the
    enrolled agents and the authorization block; returns the block's path."""
    with _locked(home):
        return _write(home, agents)


def _write(home: str | Path, agents: Iterable[Agent]) -> Path:
    enrolled = list({a.agent_id: a for a in agents}.values())
    directory = _private_dir(auth_dir(home))
    grants = table(enrolled)
    keys = {p: ensure_key(home, p) for p in grants}
    text = render(grants, keys)
    _write_private(directory / AGENTS, json.dumps([a.__dict__ for a in enrolled]).encode())
    _write_private(directory / CONFIG, text.encode())
    return directory / CONFIG


def enrol(home: str | Path, agent: Agent) -> bool:
    """Add ``agent`` to a stack's authorization (a runner started by hand); False when it
    is enrolled as it is already."""
    with _locked(home):
        agents = load_agents(home)
        if agent in agents:
            return False
        _write(home, [*(a for a in agents if a.agent_id != agent.agent_id), agent])
        return True


def server_config(path: Path, base: Path) -> Path:
    """``path`` (in ``NSED_HOME``, beside ``auth/``): ``base`` (the checkout's settings),
    then the authorization block. An include is read relative to the file that names it
    (absolute paths are not taken), so the settings are copied rather than included."""
    text = base.read_text()
    path.write_text(
        f"# Written by `nsed stack up`: {base}, then the principals' authorization.\n"
        f"{text.rstrip()}\n\ninclude ./{auth_dir('.').name}/{CONFIG}\n"
    )
    return path


def enabled(home: str | Path) -> bool:
    """Whether a stack with authorization was started with this home."""
    return (auth_dir(home) / CONFIG).is_file()


def reload(pids: Sequence[int]) -> None:
    """Ask each NATS server to read its config again (SIGHUP: nats-server's reload)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)
