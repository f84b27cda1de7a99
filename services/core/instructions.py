"""Lines an agent addresses to the council are not passed on to the other agents (pure).

An agent's text reaches the others as data: a candidate under review, a consensus-state
item, a peer's proposal, a critique. Fencing (``fencing``) tells a model that text is data;
this goes further and takes out of it the lines that speak to the deliberation instead of
about the problem, before anyone is shown them:

- a line that opens by addressing a participant or a stage of the deliberation: reviewers,
  judges, graders, evaluators, voters, the council, the assistant, the system, an AI or
  language model, the next or a later round ("Reviewers: …", "Note to the judges, …");
- a line that tells a later round what to do ("In the next round, adopt …");
- a line that asks for a rating, score, rank or vote for this candidate, answer, proposal,
  solution or response;
- a line that tells its reader to ignore or disregard earlier instructions.

Such a line becomes ``REMOVED`` (or nothing, if the line is shorter: the text never grows,
so a token count of the raw text still bounds what is shown). Nothing else changes: the
proposal's extracted answer was read by its runner from the text as written, and the
record keeps that text. A solution line that happens to fit a pattern (a problem about
judges, say) is lost to the readers, never to the answer. What this cannot catch is an
instruction phrased as something else: fencing and the models' own judgement are left to
deal with that.

Consumes: one agent-written text. Emits: the text without its instruction lines.
"""

from __future__ import annotations

import re

REMOVED = "[instruction removed]"

_ROLE = (
    r"(?:reviewers?|judges?|graders?|evaluators?|voters?|(?:the\s+)?council|assistants?|"
    r"system|ai|llms?|(?:language\s+)?models?\s+reading\s+this|"
    r"(?:the\s+)?(?:next|following|later|subsequent|coming)\s+rounds?)"
)
_ADDRESS = re.compile(
    r"^\W*(?:(?:note|message|memo|instructions?|attention|reminder|dear|hey|hello)\b\W*)?"
    r"(?:(?:to|for)\s+)?(?:(?:all|the|any|every|other|fellow)\s+)*" + _ROLE + r"\s*[:,!-]",
    re.IGNORECASE,
)
_LATER_ROUND = re.compile(
    r"\b(?:in|for|during|from|at)\s+(?:the\s+|all\s+)?(?:next|following|later|subsequent|"
    r"coming)\s+rounds?\s*[,:;-]?\s*(?:please\s+|you\s+(?:must|should)\s+|everyone\s+"
    r"(?:must|should)\s+)?(?:adopt|use|choose|pick|select|switch|change|answer|give|vote|"
    r"rate|rank|score|prefer|agree|go\s+with|support|keep)\b",
    re.IGNORECASE,
)
_RATING = re.compile(
    r"\b(?:rate|score|rank|grade|vote\s+for|upvote|weight|select|choose|pick)\s+(?:this|my|the\s+"
    r"present)\s+(?:candidate|answer|proposal|solution|response)\b",
    re.IGNORECASE,
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*(?:previous|"
    r"prior|above|earlier|preceding|other|system)\s+(?:instructions?|prompts?|rules|"
    r"directions|guidelines)\b",
    re.IGNORECASE,
)
_PATTERNS = (_ADDRESS, _LATER_ROUND, _RATING, _OVERRIDE)


def is_instruction(line: str) -> bool:
    """Whether ``line`` speaks to the deliberation rather than about the problem."""
    return any(pattern.search(line) for pattern in _PATTERNS)


def drop_instructions(text: str) -> str:
    """``text`` with every instruction line replaced by ``REMOVED`` (never longer)."""
    if not text:
        return text
    lines = text.split("\n")
    if not any(is_instruction(line) for line in lines):
        return text
    return "\n".join(_removed(line) if is_instruction(line) else line for line in lines)


def _removed(line: str) -> str:
    return REMOVED if len(line) >= len(REMOVED) else ""
