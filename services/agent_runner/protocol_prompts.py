"""The propose prompts of the protocols without review: vote, moa and debate.

``services.agent_runner.prompts`` picks these by ``ProposeRequested.protocol``. Their
system prompt is protocol-neutral (there is no council and no review to describe) and
depends only on the task's own ``system`` text, so it is byte-identical across every round
of a task, the aggregator's included. Every previous-round proposal is shown in full,
fenced as ``peer`` data under the fence notice; the answer-format rule (passed in by
``prompts``) ends every prompt.

- round 1 of every protocol: the question alone;
- debate, round r ≥ 2: the seat's own previous answer, the other seats' solutions, and a
  request to reconsider using them as evidence (after Du et al., "Improving Factuality and
  Reasoning in Language Models through Multiagent Debate");
- moa, layer r ≥ 2, and its aggregator: the previous layer's responses, and a request to
  weigh them critically and write one better answer (after Together MoA's
  aggregate-and-synthesize prompt).
"""

from __future__ import annotations

from schemas.propose import ConsensusState, ProposeRequested
from schemas.task import TaskView
from services.core.fencing import FENCE_NOTICE, fence

PROTOCOLS = frozenset({"vote", "moa", "debate"})

SOLVER = (
    "You are an expert problem solver. Your answer goes straight to the user, so it must be "
    "right: reason step by step, check your work before you commit to it, and give the "
    "final answer in exactly the form you are asked for."
)

DEBATE = (
    "Treat the other agents' reasoning as additional evidence, not as authority. Go through "
    "their solutions and your own step by step, find where they disagree, and work out which "
    "is right. Then give your updated answer."
)

LAYER = (
    "Use these responses as material for your own answer. Weigh each one critically: some "
    "may be wrong or biased. Keep what holds up, correct what does not, and write one "
    "complete and accurate answer of your own rather than a copy of any of them."
)

AGGREGATE = (
    "Your task is to synthesise these responses into a single answer of the highest "
    "quality. Evaluate them critically, since some may contain errors or bias; do not just "
    "repeat one of them. Write a refined, accurate and complete answer."
)


def system_prompt(task: TaskView) -> str:
    return SOLVER if not task.system else f"{SOLVER}\n\n{task.system}"


def peers(state: ConsensusState | None, label: str) -> str:
    items = [i for i in state.items if i.kind == "peer"] if state else []
    if not items:
        return "(none)"
    return "\n\n".join(fence("peer", i.text, label=f"{label}_{n}") for n, i in enumerate(items, 1))


def user_prompt(request: ProposeRequested, rule: str) -> str:
    task = request.task
    question = f"Question:\n{task.prompt}\n\n"
    if request.round <= 1 or request.state is None or request.protocol == "vote":
        return f"{question}Make a short plan, then solve step by step. {rule}"
    if request.protocol == "debate":
        mine = "(none)"
        if request.previous_answer is not None:
            mine = fence("previous_answer", request.previous_answer)
        return (
            f"{question}{FENCE_NOTICE}\n\nYour answer in the previous round:\n{mine}\n\n"
            "The other agents' solutions to this question from the previous round:\n"
            f"{peers(request.state, 'Agent')}\n\n{DEBATE} {rule}"
        )
    ask = AGGREGATE if request.role == "aggregator" else LAYER
    return (
        f"{question}{FENCE_NOTICE}\n\nResponses that several models wrote to this question:\n"
        f"{peers(request.state, 'Response')}\n\n{ask} {rule}"
    )
