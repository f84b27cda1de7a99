"""Dead letters: a message a service rejected, with the reason (``nsed.dlq.<service>``)."""

from __future__ import annotations

from schemas.base import Message


class DeadLetter(Message, tag="dead.letter", frozen=True, kw_only=True):
    message_id: str
    service: str
    subject: str
    error: str
    path: str | None = None  # the msgspec path of a validation error, e.g. ``$.policy.team_size``
    payload_excerpt: str = ""
    stream_seq: int | None = None
    delivered: int = 1
    at: float = 0.0
