"""Settings: one frozen Struct per service, read from prefixed environment variables.

A field ``foo`` of service ``reviewer`` is read from ``NSED_REVIEWER_FOO``, falling back to
``NSED_FOO`` (so ``NSED_NATS_URL`` and ``NSED_HOME`` reach every service). Values are
converted with ``msgspec.convert(strict=False)``, so ``"2.5"`` becomes a float.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

import msgspec

from services._runtime.errors import ConfigError

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_HOME = ".nsed"


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service shares. Services extend it with their own fields."""

    nats_url: str = DEFAULT_NATS_URL
    home: str = DEFAULT_HOME
    log_level: str = "info"
    concurrency: int = 16  # messages in flight per route in this process
    ack_wait_s: float = 5.0
    max_deliver: int = 20
    shutdown_grace_s: float = 10.0
    connect_timeout_s: float = 5.0
    startup_timeout_s: float = 30.0  # keep trying to reach NATS for this long at startup


S = TypeVar("S", bound=msgspec.Struct)


def load_settings(cls: type[S], service: str, env: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from ``NSED_<SERVICE>_<FIELD>`` / ``NSED_<FIELD>`` variables."""
    env = os.environ if env is None else env
    prefix = f"NSED_{service.upper()}_"
    values: dict[str, str] = {}
    for name in cls.__struct_fields__:
        for key in (prefix + name.upper(), f"NSED_{name.upper()}"):
            if key in env:
                values[name] = env[key]
                break
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid {service} settings: {exc}") from exc
