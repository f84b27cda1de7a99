"""An aiohttp server on a free loopback port, for the test doubles that speak HTTP."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web

from services.stack.natsserver import free_port


@dataclass
class LoopbackServer(ABC):
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @abstractmethod
    def routes(self, app: web.Application) -> None:
        """Add the server's routes to ``app``."""

    async def start(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
