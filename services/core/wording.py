"""Validation errors in plain words (pure): what a person reads when a task, a setting or a
message is refused, instead of the decoding library's phrasing.

    Expected `str` of length >= 1 - at `$.prompt`     →  prompt: must not be empty
    Expected `int` <= 64 - at `$.policy.team_size`    →  policy.team_size: must be at most 64
    Object missing required field `prompt`            →  prompt: is required

A message this module does not recognise is kept as it is (with its path in front), so
nothing is ever lost in translation.
"""

from __future__ import annotations

import re

_AT = re.compile(r"^(?P<what>.*?) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Expected `str` of length >= 1$"), "must not be empty"),
    (re.compile(r"^Expected `str` of length >= (\d+)$"), "must be at least {0} characters"),
    (re.compile(r"^Expected `str` of length <= (\d+)$"), "must be at most {0} characters"),
    (re.compile(r"^Expected `(?:int|float)` >= (\S+)$"), "must be at least {0}"),
    (re.compile(r"^Expected `(?:int|float)` > (\S+)$"), "must be more than {0}"),
    (re.compile(r"^Expected `(?:int|float)` <= (\S+)$"), "must be at most {0}"),
    (re.compile(r"^Expected `(?:int|float)` < (\S+)$"), "must be less than {0}"),
    (
        re.compile(r"^Expected `str` matching regex '\^\[A-Za-z0-9_-\]\{1,64\}\$'$"),
        "must be 1–64 letters, digits, - or _",
    ),
    (
        re.compile(r"^Expected `(?:array|object)` of length <= (\d+)$"),
        "must have at most {0} entries",
    ),
    (re.compile(r"^Expected `(\w+)`, got `(\w+)`$"), "must be {0}, not {1}"),
    (re.compile(r"^Invalid enum value (.+)$"), "{0} is not one of the allowed values"),
)
_MISSING = re.compile(r"^Object missing required field `([^`]+)`( - at `\$(?P<path>[^`]*)`)?$")
_TYPES = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
          "object": "an object", "array": "a list", "null": "null"}  # fmt: skip


def clip(text: str, chars: int) -> str:
    """``text`` cut to at most ``chars`` characters, an ellipsis marking the cut."""
    return text if len(text) <= chars else text[: chars - 1] + "…"


def plain(message: str) -> str:
    """``message`` (msgspec's) in plain words, with the field it concerns first."""
    missing = _MISSING.match(message)
    if missing:
        where = (missing.group("path") or "").lstrip(".")
        field = missing.group(1)
        return f"{where + '.' if where else ''}{field}: is required"
    found = _AT.match(message)
    if found is None:
        return message
    what, path = found.group("what"), found.group("path").lstrip(".") or "the message"
    for pattern, text in _RULES:
        rule = pattern.match(what)
        if rule:
            words = [_TYPES.get(g, g) for g in rule.groups()]
            return f"{path}: {text.format(*words)}"
    return f"{path}: {what}"
