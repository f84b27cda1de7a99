"""Step 0 — intake: ``TaskSubmitted`` on ``nsed.tasks`` with its deliberation ``Policy``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schemas.base import AnswerFormat, Message, Struct, TaskId, Token
from schemas.limits import (
    ANSWER_CHARS,
    FEEDBACK_TOKENS,
    MAX_READING_TEAM,
    MAX_ROUNDS,
    MAX_TEAM,
    METADATA_ENTRIES,
    METADATA_VALUE_CHARS,
    PROMPT_CHARS,
    ROLE_INSTRUCTION_CHARS,
    STATE_TOKENS,
    SYSTEM_CHARS,
    Epoch,
    Id,
    Label,
    Reason,
    RoundNumber,
    text,
)

Count = Annotated[int, msgspec.Meta(ge=1, le=MAX_TEAM)]
Rounds = Annotated[int, msgspec.Meta(ge=1, le=MAX_ROUNDS)]
Unit = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Seconds = Annotated[float, msgspec.Meta(gt=0.0, le=7 * 24 * 3600.0)]
# How the team deliberates, all on the same services: ``nsed`` the full round (review,
# quadratic vote, forget gate, halting); ``vote`` one round and the plurality answer
# (self-consistency; Self-MoA with repeat seats); ``moa`` layered proposals, each layer
# shown the previous one's answers, then one aggregator seat (Together MoA); ``debate``
# rounds in which each member sees every other member's previous answer, then the
# plurality (Du et al.). See the README, "Protocols".
ProtocolName = Literal["nsed", "vote", "moa", "debate"]
# A role's instruction is a paragraph, not a second prompt: every seat of the role carries
# it in every propose and review prompt, and a bound keeps that cost visible.
ROLE_INSTRUCTION_MAX_CHARS = ROLE_INSTRUCTION_CHARS
RoleInstruction = Annotated[str, msgspec.Meta(max_length=ROLE_INSTRUCTION_MAX_CHARS)]
# moa's final seat is given this role by the gate; a policy role of that name would make
# every layer's seat aggregate.
RESERVED_ROLE = "aggregator"


class Policy(Struct, frozen=True, kw_only=True):
    """How one task is deliberated. Every field has a default; a client sends what it changes."""

    team_size: Count = 3
    min_team: Count = 2
    max_rounds: Rounds = 6
    min_rounds: Rounds = 1
    effort: Unit = 0.6
    budget_usd: Annotated[float, msgspec.Meta(ge=0.0, le=1e9)] | None = None
    # None: long enough for every phase the task may run at the team's measured latency
    # (services/broker/timing.py).
    deadline_s: Seconds | None = None
    phase_timeout_s: Seconds | None = None
    # At least 256: 160 tokens of it pay for the later rounds' prompt frame (§5.4).
    state_token_budget: Annotated[int, msgspec.Meta(ge=256, le=STATE_TOKENS)] = 2048
    feedback_token_budget: Annotated[int, msgspec.Meta(ge=0, le=FEEDBACK_TOKENS)] = 512
    gamma: Unit = 0.5
    # Role name -> seat count. Absent means every seat has the role ``member``. A role other
    # than ``member`` goes only to agents whose pool entry lists it (``roles``, announced
    # as the card's ``capabilities``).
    roles: Annotated[dict[Token, Count], msgspec.Meta(max_length=MAX_TEAM)] | None = None
    # Role name -> the instruction its seats alone are given, in the user turn of their
    # propose and review prompts. Replaces the built-in instruction of a well-known role
    # (``services.core.roles``); "" gives the role none.
    role_instructions: Annotated[
        dict[Token, RoleInstruction], msgspec.Meta(max_length=MAX_TEAM)
    ] = msgspec.field(default_factory=dict)
    pinned_agents: Annotated[tuple[Token, ...], msgspec.Meta(max_length=MAX_TEAM)] = ()
    max_per_family: Count = 1
    allow_repeat_seats: bool = False
    protocol: ProtocolName = "nsed"
    # An exact team, seat by seat (seat i is team[i]), repeats allowed: seated as it is if
    # every agent is live, else the task fails with no_team; no optimisation. team_size and
    # min_team then follow from it. With ``roles``, seat i takes ``seat_roles()[i]``.
    team: Annotated[tuple[Token, ...], msgspec.Meta(max_length=MAX_TEAM)] = ()

    def __post_init__(self) -> None:
        if self.team:
            self._fit_team()
        if self.protocol != "vote" and self.team_size > MAX_READING_TEAM:
            raise ValueError(
                f"protocol {self.protocol!r} seats at most {MAX_READING_TEAM}: its members "
                f"read each other's proposals (vote, whose members do not, takes {MAX_TEAM})"
            )
        if self.min_team > self.team_size:
            raise ValueError(f"min_team ({self.min_team}) exceeds team_size ({self.team_size})")
        if self.min_rounds > self.max_rounds:
            raise ValueError(
                f"min_rounds ({self.min_rounds}) exceeds max_rounds ({self.max_rounds})"
            )
        if self.roles is not None and sum(self.roles.values()) != self.team_size:
            raise ValueError(f"the role counts must add up to team_size ({self.team_size})")
        if self.roles is not None and RESERVED_ROLE in self.roles:
            raise ValueError(f"the role {RESERVED_ROLE!r} is reserved for moa's final seat")
        unknown = sorted(set(self.role_instructions) - set(self.seat_roles()))
        if unknown:
            raise ValueError(
                f"role_instructions for role(s) no seat has: {', '.join(unknown)} "
                f"(roles: {', '.join(sorted(set(self.seat_roles())))})"
            )
        if len(self.pinned_agents) > self.team_size:
            raise ValueError("more pinned agents than seats")

    def _fit_team(self) -> None:
        if len(self.team) < 2 and self.protocol != "vote":
            raise ValueError(f"protocol {self.protocol!r} needs a team of at least 2")
        if not set(self.pinned_agents) <= set(self.team):
            raise ValueError("pinned agents outside the team")
        # A study pins the team; the sizes it would otherwise have to repeat follow from it.
        msgspec.structs.force_setattr(self, "team_size", len(self.team))
        msgspec.structs.force_setattr(self, "min_team", min(self.min_team, len(self.team)))

    def seat_roles(self) -> list[str]:
        """One role name per seat, in seat order: the roles sorted by name, each repeated
        by its count (an exact team's seat i takes the i-th)."""
        if self.roles is None:
            return ["member"] * self.team_size
        return [name for name, count in sorted(self.roles.items()) for _ in range(count)]


class Sampling(Struct, frozen=True, kw_only=True):
    """A client's settings for the members' proposals (the gateway's ``max_tokens`` and
    ``temperature``): a model-backed member writes its proposal with at most ``max_tokens``
    (below its own limit, never above it) at ``temperature``. Reviews keep the agent's
    own settings (a review is JSON of its own size), and simulated agents ignore both."""

    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0.0, le=2.0)] | None = None


class TaskSubmitted(Message, tag="task.submitted", frozen=True, kw_only=True):
    """A question for the council. Only ``prompt`` is required; ``type`` may be omitted."""

    task_id: TaskId | None = None
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=PROMPT_CHARS)]
    system: Annotated[str, text(SYSTEM_CHARS)] | None = None
    domain: Token = "general"
    answer_format: AnswerFormat = "text"
    # For evaluation and simulation only: never shown to any agent.
    reference_answer: Annotated[str, text(ANSWER_CHARS)] | None = None
    policy: Policy = msgspec.field(default_factory=Policy)
    metadata: Annotated[
        dict[Label, Annotated[str, text(METADATA_VALUE_CHARS)]],
        msgspec.Meta(max_length=METADATA_ENTRIES),
    ] = msgspec.field(default_factory=dict)
    submitted_at: Epoch | None = None
    sampling: Sampling = Sampling()

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("prompt is blank")


class TaskRefused(Message, tag="task.refused", frozen=True, kw_only=True):
    """A task the broker would not take, told to whoever follows its id
    (``nsed.events.<task_id>.refused``): a task id is an idempotency key, and a different
    task under an id already in use is refused without touching that id's result."""

    task_id: TaskId
    round: RoundNumber = 0
    message_id: Id
    reason: Reason


class TaskView(Struct, frozen=True, kw_only=True):
    """What an agent may see of a task: everything but the reference answer and the policy."""

    task_id: TaskId
    prompt: Annotated[str, text(PROMPT_CHARS)]
    system: Annotated[str, text(SYSTEM_CHARS)] | None = None
    domain: Label = "general"
    answer_format: AnswerFormat = "text"
    sampling: Sampling = Sampling()

    @classmethod
    def of(cls, task_id: str, task: TaskSubmitted) -> TaskView:
        return cls(
            task_id=task_id,
            prompt=task.prompt,
            system=task.system,
            domain=task.domain,
            answer_format=task.answer_format,
            sampling=task.sampling,
        )
