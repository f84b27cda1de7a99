"""Settings: one frozen Struct per service, read from prefixed environment variables.

A field ``foo`` of service ``reviewer`` is read from ``NSED_REVIEWER_FOO``, falling back to
``NSED_FOO`` (so ``NSED_NATS_URL`` and ``NSED_HOME`` reach every service). Values are
converted with ``msgspec.convert(strict=False)``, so ``"2.5"`` becomes a float, and checked
against the field's constraints (the types below). A value that fails is a ``ConfigError``
naming the variable it came from, which ``run_main`` prints as one line before exiting 2.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Annotated, TypeVar

import msgspec

from services._runtime.errors import ConfigError
from services.core.wording import plain

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_HOME = ".nsed"

# msgspec lets "nan" fail every bound but lets "inf" pass a lower one: the upper bound
# keeps it out. A timeout of ∞ is a wait without end (STYLE 11).
_FINITE = sys.float_info.max
Positive = Annotated[float, msgspec.Meta(gt=0.0, le=_FINITE)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0, le=_FINITE)]
Finite = Annotated[float, msgspec.Meta(ge=-_FINITE, le=_FINITE)]  # any number but NaN, ±∞
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service shares. Services extend it with their own fields."""

    nats_url: str = DEFAULT_NATS_URL
    home: str = DEFAULT_HOME
    log_level: str = "info"
    concurrency: AtLeastOne = 16  # messages in flight per route in this process
    ack_wait_s: Positive = 5.0
    max_deliver: AtLeastOne = 20  # a finite count: the last delivery dead-letters
    shutdown_grace_s: NonNegative = 10.0  # 0: cancel in-flight messages at once
    connect_timeout_s: Positive = 5.0
    startup_timeout_s: Positive = 30.0  # keep trying to reach NATS for this long at startup
    # Copies of every stream and bucket it creates: 3 on a NATS cluster of three or more
    # (`nsed stack up --cluster 3` sets it), so that losing a node loses nothing.
    stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1


S = TypeVar("S", bound=msgspec.Struct)
_AT_FIELD = re.compile(r"\s+-\s+at\s+`\$\.(\w+)`$")


def load_settings(cls: type[S], service: str, env: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from ``NSED_<SERVICE>_<FIELD>`` / ``NSED_<FIELD>`` variables."""
    env = os.environ if env is None else env
    prefix = f"NSED_{service.upper()}_"
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in cls.__struct_fields__:
        for key in (prefix + name.upper(), f"NSED_{name.upper()}"):
            if key in env:
                values[name] = env[key]
                sources[name] = key
                break
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid {service} settings: {_explain(exc, values, sources)}") from exc


def _explain(exc: msgspec.ValidationError, values: dict[str, str], sources: dict[str, str]) -> str:
    """msgspec's reason, led by the variable and the value that failed (on one line)."""
    text = " ".join(str(exc).split())
    match = _AT_FIELD.search(text)
    if match is None or match.group(1) not in sources:
        return text
    name = match.group(1)
    # msgspec's reason for NaN or ∞ is whichever bound it failed, which reads oddly.
    finite = _is_finite(values[name])
    # The rule alone, in plain words: the variable names the field.
    reason = plain(text).split(": ", 1)[-1] if finite else "not a finite number"
    return f"{sources[name]}={values[name]!r}: {reason}"


def _is_finite(raw: str) -> bool:
    try:
        return math.isfinite(float(raw))
    except ValueError:
        return True  # not a number at all: msgspec's reason says what it expected
