"""``NSED_NATS_URL`` as a list of servers: one URL, or the nodes of one NATS cluster
separated by commas (``nats://a:4222,nats://b:4222,nats://c:4222``).

Consumes the setting's text. Emits the list of URLs nats-py connects with (it fails over
between them), the listener (host, port) each URL names, and whether two settings name a
common listener (the same stack).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse

DEFAULT_PORT = 4222
_LOOPBACK = {"localhost": "127.0.0.1", "::1": "127.0.0.1"}


def split(value: str) -> list[str]:
    """The URLs in a setting, in order; spaces and empty items between commas are ignored."""
    urls = [part.strip() for part in value.split(",") if part.strip()]
    if not urls:
        raise ValueError(f"no NATS URL in {value!r}")
    return urls


def join(urls: Sequence[str]) -> str:
    return ",".join(urls)


def listener(url: str) -> tuple[str, int]:
    """The (host, port) a URL reaches; ``localhost`` is the loopback, a missing port 4222."""
    parsed = urlparse(url if "://" in url else f"nats://{url}")
    host = parsed.hostname or "127.0.0.1"
    return _LOOPBACK.get(host, host), parsed.port or DEFAULT_PORT


def listeners(value: str) -> set[tuple[str, int]]:
    return {listener(url) for url in split(value)}


def overlap(a: str, b: str) -> bool:
    """Whether two settings name at least one common listener: one stack, or one cluster."""
    return bool(listeners(a) & listeners(b))


def widen(given: str, recorded: Sequence[str]) -> str:
    """``given`` with every node of a recorded cluster it reaches: a client told one node of
    the local cluster fails over to the others. A setting that reaches none of them is
    returned as it is."""
    if not recorded or not overlap(given, join(recorded)):
        return given
    known = {listener(url) for url in recorded}
    return join([*recorded, *(url for url in split(given) if listener(url) not in known)])
