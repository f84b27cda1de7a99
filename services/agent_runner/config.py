"""Agent pools in TOML: one ``[[agents]]`` table per profile (see ``infra/agents/``)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from schemas.base import Backend, Token
from schemas.limits import Label, Name
from schemas.team import DomainPrior
from services._runtime.errors import ConfigError
from services.agent_runner.backends.slots import server_key
from services.agent_runner.local_model import LocalModel, ServerSpec, group_servers

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
# What the agent's card carries (schemas.team.AgentCard) must fit the card's bounds, or the
# broker could not read it: the pool is refused at start instead.
Domains = Annotated[dict[Label, DomainPrior], msgspec.Meta(max_length=32)]


NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]

# A simulated agent that attacks the council (``backends/sim_adversary``): ``self_promote``
# votes every rival down at the ballot's bound in every review; ``inject`` plants
# instructions to reviewers and to later rounds in its proposals.
Adversary = Literal["self_promote", "inject"]
# The default chance that a simulated agent follows an instruction planted in another
# agent's text it is shown (a review, or a proposal of a later round), although every
# prompt fences that text as data: an assumption, not a measurement (see sim_adversary).
DEFAULT_SUSCEPTIBILITY = 0.2


class SimConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The exact parameters of a simulated agent (§6.2; the model is in ``sim_latent``).

    ``p_g``: round-1 accuracy averaged over task difficulty. ``p_v``: the probability that
    a review orders a right candidate above a wrong one (0.5 is chance). ``fatigue_g``:
    logits of ability lost per (round − 1)². ``fatigue_v``: share of p_v's edge over chance
    lost per (round − 1)². ``self_bias``: latent-score bonus a reviewer gives candidates
    that share its own answer (0 keeps p_v exact). ``adversary``: this agent attacks the
    council (``Adversary``); None is an honest agent. ``susceptibility``: the chance that one
    of its reviews, or one of its proposals, follows an instruction planted in the text of
    another agent it is shown; an adversary follows none.
    """

    p_g: Probability = 0.55
    p_v: Probability = 0.75
    sycophancy: Probability = 0.2
    fatigue_g: NonNegative = 0.01
    fatigue_v: NonNegative = 0.01
    self_bias: NonNegative = 0.0
    latency_median_s: Annotated[float, msgspec.Meta(ge=0.0)] = 0.5
    latency_sigma: Annotated[float, msgspec.Meta(ge=0.0)] = 0.3
    reasoning_tokens: Annotated[int, msgspec.Meta(ge=0)] = 200
    error_rate: Probability = 0.0  # chance that a call fails (chaos and reliability studies)
    seed: int = 0
    adversary: Adversary | None = None
    susceptibility: Probability = DEFAULT_SUSCEPTIBILITY
    # per-domain p_g / p_v, else the two above
    domains: Domains = msgspec.field(default_factory=dict)

    def precision(self, domain: str) -> DomainPrior:
        return (
            self.domains.get(domain)
            or self.domains.get("default")
            or DomainPrior(p_g=self.p_g, p_v=self.p_v)
        )


StructuredOutput = Literal["auto", "json_schema", "json_object", "prompt"]


class OpenAIConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, OpenAI, …).

    ``structured_output`` says how reviews are constrained to JSON: ``json_schema``
    (OpenAI, vLLM, recent Ollama, llama.cpp's ``llama-server``), ``json_object`` (a JSON
    object, with the schema in the Anyscale style that llama-cpp-python's server turns into
    a grammar), ``prompt`` (asked for in the prompt only) or ``auto``: try them in that
    order and keep the first the server accepts. vLLM's own ``guided_json`` extra (removed
    in its v0.12 for ``structured_outputs``) is not needed: its ``json_schema`` is the same
    guided decoding. Whatever comes back is parsed leniently and mended with json-repair.

    ``base_url`` and ``model`` are required, except for an agent on a local model
    (``[agents.local]``): the stack's server for it supplies both.
    """

    base_url: str = ""
    model: str = ""
    api_key_env: str | None = None  # the NAME of the environment variable with the key
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 180.0
    connect_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=20)] = 4
    backoff_s: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    max_backoff_s: Annotated[float, msgspec.Meta(ge=0)] = 20.0
    structured_output: StructuredOutput = "auto"
    temperature: float | None = 0.7
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] = 4096
    review_max_tokens: Annotated[int, msgspec.Meta(ge=1)] = 1536
    # One proposal-sized call when the runner goes live, so its card reports measured
    # latency at once (services/agent_runner/probe.py); off: the declared latency until
    # the first task's calls.
    probe: bool = True
    # Send the system prompt at the head of the first user turn: for chat templates that
    # drop system messages (a runner warns at start when it finds one that does).
    fold_system: bool = False
    # Hold proposals to a grammar ending in the format's final-answer line (llama.cpp and
    # llama-cpp-python servers only; backends/grammar.py), for models that do not end
    # with one of their own accord.
    answer_grammar: bool = False
    # Requests the server computes at once (llama-server --parallel, vLLM max_num_seqs),
    # shared by every agent of this host that calls its base_url (backends/slots.py); None:
    # only each agent's max_concurrency. An agent on a local model gets its server's.
    server_slots: Annotated[int, msgspec.Meta(ge=1, le=1024)] | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # never put secrets here
    extra_body: dict[str, Any] = msgspec.field(default_factory=dict)  # e.g. reasoning_effort


class AgentProfile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Token
    model: Name
    family: Name
    backend: Backend = "sim"
    price_in_per_mtok: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    price_out_per_mtok: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 4
    context_window: Annotated[int, msgspec.Meta(ge=256)] = 8192
    # The roles of a policy this agent may fill besides ``member``, which every agent may
    # (``solver``, ``verifier``, ...). ``capabilities`` is the older name of the same list;
    # the card carries both, merged, as its ``capabilities``.
    roles: Annotated[tuple[Token, ...], msgspec.Meta(max_length=32)] = ()
    capabilities: Annotated[tuple[Label, ...], msgspec.Meta(max_length=32)] = ()
    # Priors the broker starts from. For simulated agents they default to the true values.
    domains: Domains = msgspec.field(default_factory=dict)
    latency_s: float | None = None  # median call latency estimate
    latency_p95_s: float | None = None
    sim: SimConfig | None = None
    openai: OpenAIConfig | None = None
    local: LocalModel | None = None  # a GGUF model the stack serves (then backend "openai")

    def __post_init__(self) -> None:
        if self.local is not None:
            self._check_local(self.local)
        elif self.backend == "sim" and self.sim is None:
            raise ValueError(f"agent {self.id}: backend 'sim' needs a [agents.sim] table")
        elif self.backend == "openai" and (self.openai is None or not self.openai.base_url):
            raise ValueError(
                f"agent {self.id}: backend 'openai' needs [agents.openai] with a base_url "
                "(or a local model in [agents.local])"
            )
        elif self.openai is not None and not self.openai.model:
            raise ValueError(f"agent {self.id}: [agents.openai] needs a model")

    def _check_local(self, local: LocalModel) -> None:
        if self.backend != "openai":
            raise ValueError(
                f"agent {self.id}: a local model is served over the OpenAI API; "
                'set backend = "openai"'
            )
        if self.openai is not None and self.openai.base_url:
            raise ValueError(
                f"agent {self.id}: base_url comes from the stack's server for its local "
                "model; remove it from [agents.openai]"
            )
        if self.max_concurrency > local.parallel:
            raise ValueError(
                f"agent {self.id}: max_concurrency {self.max_concurrency} exceeds its local "
                f"server's parallel {local.parallel} (set max_concurrency = {local.parallel})"
            )
        if self.context_window > local.n_ctx:
            raise ValueError(
                f"agent {self.id}: context_window {self.context_window} exceeds its local "
                f"server's n_ctx {local.n_ctx}"
            )

    def served_at(self, base_url: str) -> AgentProfile:
        """This profile pointed at the server the stack runs for its local model: a plain
        ``openai`` agent of that server, whose model is the server's alias for it."""
        if self.local is None:
            return self
        config = self.openai or OpenAIConfig()
        return msgspec.structs.replace(
            self,
            local=None,
            openai=msgspec.structs.replace(
                config,
                base_url=base_url,
                model=config.model or self.local.name,
                server_slots=self.local.parallel,
            ),
        )

    def fillable_roles(self) -> tuple[str, ...]:
        """The roles this agent may fill besides ``member``: what its card announces."""
        return tuple(dict.fromkeys((*self.roles, *self.capabilities)))

    def priors(self) -> dict[str, DomainPrior]:
        if self.domains:
            return dict(self.domains)
        if self.sim is not None:
            return {"default": DomainPrior(p_g=self.sim.p_g, p_v=self.sim.p_v), **self.sim.domains}
        return {"default": DomainPrior()}

    def latency_estimate(self) -> tuple[float, float]:
        """(median, p95) seconds of one call."""
        if self.latency_s is not None:
            return self.latency_s, self.latency_p95_s or self.latency_s * 2.0
        if self.sim is not None:
            median = self.sim.latency_median_s
            return median, median * 2.718281828 ** (1.645 * self.sim.latency_sigma)
        return 5.0, 30.0

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.price_in_per_mtok + output_tokens * self.price_out_per_mtok
        ) / 1e6


class PoolConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    agents: tuple[AgentProfile, ...]

    def __post_init__(self) -> None:
        ids = [a.id for a in self.agents]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate agent ids: {', '.join(duplicates)}")
        _check_server_slots(self.agents)

    def agent(self, agent_id: str | None) -> AgentProfile:
        if agent_id is None:
            if len(self.agents) == 1:
                return self.agents[0]
            ids = ", ".join(a.id for a in self.agents)
            raise ConfigError(f"the pool has several agents; choose one with --agent ({ids})")
        for profile in self.agents:
            if profile.id == agent_id:
                return profile
        ids = ", ".join(a.id for a in self.agents)
        raise ConfigError(f"no agent {agent_id!r} in the pool (agents: {ids})")

    def servers(self, pool_dir: Path) -> list[ServerSpec]:
        """The model servers the stack runs for this pool: one per distinct local model."""
        return group_servers(
            [(a.id, a.local) for a in self.agents if a.local is not None], pool_dir
        )


def _check_server_slots(agents: tuple[AgentProfile, ...]) -> None:
    """Agents that call one server must agree on its slots: they share them."""
    seen: dict[str, tuple[str, int | None]] = {}
    for agent in agents:
        if agent.openai is None or not agent.openai.base_url:
            continue
        key = server_key(agent.openai.base_url)
        first = seen.setdefault(key, (agent.id, agent.openai.server_slots))
        if first[1] != agent.openai.server_slots:
            raise ValueError(
                f"agents {first[0]} and {agent.id} call one server "
                f"({agent.openai.base_url}) but give it server_slots {first[1]} and "
                f"{agent.openai.server_slots}: they share its slots, so set the same number"
            )


def load_pool(path: str | Path) -> PoolConfig:
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"agent pool file not found: {file}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return msgspec.convert(raw, PoolConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
