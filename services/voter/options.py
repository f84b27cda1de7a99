"""The options a round votes on (pure): its ok proposals grouped by answer where the
format has one, one option per proposal for free text. The voter tallies over them; the
gate falls back on them when a deadline ends a round that was never tallied."""

from __future__ import annotations

from schemas.base import AnswerFormat
from schemas.record import DeliberationRecord
from services.core.answers import normalize_answer
from services.voter import qv

BY_ANSWER: frozenset[AnswerFormat] = frozenset({"integer", "choice"})


def entries(record: DeliberationRecord) -> list[qv.Entry]:
    """The round's ok proposals as options: by normalised answer where the format has one
    (a proposal without an answer stands alone), else each proposal on its own."""
    fmt = record.task.answer_format
    out = []
    for p in record.current.ok_proposals():
        key = normalize_answer(p.extracted_answer, fmt) if fmt in BY_ANSWER else None
        out.append(
            qv.Entry(
                proposal_id=p.proposal_id,
                agent=p.agent_id,
                key=f"answer:{key}" if key is not None else f"proposal:{p.proposal_id}",
                answer=p.extracted_answer,
            )
        )
    return out
