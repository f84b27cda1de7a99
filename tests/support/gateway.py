"""The gateway in-process on a free loopback port, and the official SDK pointed at it."""

from __future__ import annotations

from typing import Any

import openai
from openai import AsyncOpenAI

from services.stack.natsserver import free_port
from tests.support.inprocess import InProcessServices
from tests.support.wait import until


def sdk(url: str, key: str = "none", **options: Any) -> AsyncOpenAI:
    """The SDK as a client uses it, without its retries: a test sees each status once."""
    return AsyncOpenAI(base_url=url, api_key=key, max_retries=0, **{"timeout": 60, **options})


async def start_gateway(
    inproc: InProcessServices,
    agents: tuple[str, ...] = (),
    key: str = "none",
    name: str = "gateway",
    **settings: Any,
) -> str:
    """Start a gateway; its base URL (``…/v1``) once its models list every one of
    ``agents`` (once it answers at all, for none)."""
    port = free_port()
    inproc.start_gateway(port, name, **settings)
    url = f"http://127.0.0.1:{port}/v1"

    async def listed() -> bool:
        async with sdk(url, key) as client:
            try:
                models = await client.models.list()
            except openai.APIConnectionError:
                return False
        behind = models.data[0].model_extra["nsed"]["agents"]  # type: ignore[index]
        return {a["id"] for a in behind} >= set(agents)

    await until(listed, timeout=20, what="the gateway listing the pool")
    return url
