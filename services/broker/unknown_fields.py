"""The fields of a task, as sent, that the task and its policy do not have (pure).

Wire types accept unknown fields (STYLE 7: a newer client may send what this broker does
not know yet), so a misspelt ``max_round`` would be dropped without a word while a pool
file refuses its typos. The broker still takes the task, and reports each such field
back as a warning on its ``TeamSelected`` and its result.

Consumes the task's raw JSON payload; emits the unknown keys (``policy.`` before a policy
field) and the warning lines that name them.
"""

from __future__ import annotations

import difflib
from typing import Any

import msgspec

from schemas.task import Policy, TaskSubmitted
from services._runtime.route import UNDECODABLE

MAX_WARNINGS = 10  # a payload may carry any number of keys; the result carries a few
MAX_KEY_CHARS = 64


def _names(struct: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset(f.encode_name for f in msgspec.structs.fields(struct))


TASK_FIELDS = _names(TaskSubmitted) | {"type"}  # the tag field is part of the wire form
POLICY_FIELDS = _names(Policy)


def unknown_keys(payload: bytes) -> tuple[str, ...]:
    """Every key of the task object, and of its ``policy`` object, that the schema lacks,
    in the order sent; nothing for a payload that is not a JSON object."""
    try:
        raw: Any = msgspec.json.decode(payload)
    except UNDECODABLE:
        return ()
    if not isinstance(raw, dict):
        return ()
    keys = [k for k in raw if k not in TASK_FIELDS]
    policy = raw.get("policy")
    if isinstance(policy, dict):
        keys += [f"policy.{k}" for k in policy if k not in POLICY_FIELDS]
    return tuple(keys)


def field_warnings(keys: tuple[str, ...]) -> tuple[str, ...]:
    """One line per unknown key (at most ``MAX_WARNINGS``), with the field it is closest
    to when it looks like a misspelling."""
    lines = [_warning(key) for key in keys[:MAX_WARNINGS]]
    if len(keys) > MAX_WARNINGS:
        lines.append(f"and {len(keys) - MAX_WARNINGS} more unknown field(s), ignored")
    return tuple(lines)


def _warning(key: str) -> str:
    in_policy = key.startswith("policy.")
    name = key.removeprefix("policy.")
    known = POLICY_FIELDS if in_policy else TASK_FIELDS
    shown = key if len(key) <= MAX_KEY_CHARS else key[: MAX_KEY_CHARS - 1] + "…"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    meant = f"{'policy.' if in_policy else ''}{close[0]}" if close else None
    return f"unknown field {shown!r} ignored" + (f" (did you mean {meant!r}?)" if meant else "")
