"""Dead letters: a message a service rejected, with the reason (``nsed.dlq.<service>``)."""

from __future__ import annotations

from typing import Annotated

from schemas.base import Message
from schemas.limits import (
    EXCERPT_BYTES,
    ID_CHARS,
    SUBJECT_CHARS,
    Count,
    Epoch,
    Id,
    Label,
    Reason,
    text,
)


class DeadLetter(Message, tag="dead.letter", frozen=True, kw_only=True):
    message_id: Id
    service: Label
    subject: Annotated[str, text(SUBJECT_CHARS)]
    error: Reason
    # the msgspec path of a validation error, e.g. ``$.policy.team_size``
    path: Annotated[str, text(ID_CHARS)] | None = None
    # The payload's first bytes, decoded (a bad byte becomes one replacement character).
    payload_excerpt: Annotated[str, text(EXCERPT_BYTES)] = ""
    stream_seq: Count | None = None
    delivered: Count = 1
    at: Epoch = 0.0
