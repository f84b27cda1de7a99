"""Gateway settings (``NSED_GATEWAY_*``, falling back to ``NSED_*``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from services._runtime.settings import Positive, ServiceSettings

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]  # 0: any free port (tests)
DEFAULT_PORT = 8080


class GatewaySettings(ServiceSettings, frozen=True, kw_only=True):
    host: str = "127.0.0.1"  # loopback: the stack has no authorization of its own
    port: Port = DEFAULT_PORT
    # Comma-separated bearer keys; empty: no key is asked for.
    api_keys: str = ""
    # How long a request waits for the broker to seat a team (or say it cannot).
    team_wait_s: Positive = 60.0
    # Beyond the task's deadline, how long a request waits for its result.
    result_grace_s: Positive = 30.0
    # Deliberations listed by the web view and the read side.
    recent_limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    # The Jaeger UI (``NSED_JAEGER_URL``, e.g. http://127.0.0.1:16686): the web view links
    # each deliberation's trace there. Empty: it shows the trace id alone.
    jaeger_url: str = ""

    def keys(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())
