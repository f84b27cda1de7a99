"""The gateway in the test's own event loop, and the clients its web view is checked with:
plain HTTP, a server-sent events reader, and Debian's headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.inprocess import InProcessServices
from tests.support.natsserver import free_port
from tests.support.wait import until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def gateway(inproc: InProcessServices, **settings: Any) -> AsyncIterator[str]:
    """A gateway of ``inproc`` on a free loopback port; yields its base URL once its web
    view answers, and stops it on exit."""
    port = free_port()
    name = inproc.start_gateway(port, **settings)
    url = f"http://127.0.0.1:{port}"

    async def answers() -> bool:
        running = inproc.running[name].task
        if running.done():
            running.result()  # its failure, not a timeout, is what the test should show
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{url}/static/view.css") as r:
                return r.status == 200
        except aiohttp.ClientConnectionError:
            return False

    try:
        await until(answers, timeout=20.0, what="the gateway's web view to answer")
        yield url
    finally:
        if name in inproc.running:
            await inproc.stop(name)


@dataclass
class Sse:
    event: str
    data: str


async def read_sse(response: aiohttp.ClientResponse, until_event: str = "end") -> list[Sse]:
    """Every server-sent event of ``response`` until ``until_event`` (or the stream ends)."""
    found: list[Sse] = []
    event, data = "message", []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                found.append(Sse(event, "\n".join(data)))
                if event == until_event:
                    break
            event, data = "message", []
        elif line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
    return found


def chromium_missing() -> str | None:
    """Why Chromium cannot be driven here, or None."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        return (
            f"{CHROMIUM} is not installed and could not be (`make test` installs Debian's "
            "chromium package when run as root with apt-get)"
        )
    return None


async def chromium(url: str, profile: Path, *extra: str) -> str:
    """Chromium, headless, loads ``url`` and prints the DOM as its scripts left it. It runs
    as a subprocess the event loop awaits: the gateway it asks is in the same loop."""
    binary = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium") or CHROMIUM
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *extra,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=CHROMIUM_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited {proc.returncode}: {err.decode()[-2000:]}")
    return out.decode()
