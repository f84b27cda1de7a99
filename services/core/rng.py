"""Seeded randomness: every draw is a function of its named parts, never of scheduling."""

from __future__ import annotations

import hashlib
import random


def seeded(*parts: object) -> random.Random:
    """A ``random.Random`` seeded by a stable hash of ``parts`` (not Python's ``hash``)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def stable_hex(*parts: object, size: int = 8) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).hexdigest()
