"""Reviews as JSON (pure): the schema servers are asked to follow, and a lenient reader
for what they actually send.

Small or random models, and servers whose grammar enforces a schema's shape but not its
ranges, produce JSON with raw control characters, out-of-range numbers, missing fields,
extra prose around it, or a body cut off by ``max_tokens``. ``parse_review`` tries, in
order: the text as is, without a code fence, the first balanced ``{…}``, and that object
with its open strings and brackets closed. It then coerces what it finds into review
entries; ballot validation (§5.2) does the rest.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from schemas.review import Claim, ReviewEntry, Verdict

VERDICTS: tuple[Verdict, ...] = ("verified", "contested", "unverified", "wrong")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class Unparseable(ValueError):
    """No review could be read from the model's output."""


def review_schema(labels: Sequence[str]) -> dict[str, Any]:
    """One entry per candidate label, with a weight, a justification and quoted claims."""
    return {
        "type": "object",
        "properties": {
            "reviews": {
                "type": "array",
                "minItems": len(labels),
                "maxItems": len(labels),
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string", "enum": list(labels)},
                        "weight": {"type": "integer", "minimum": -100, "maximum": 100},
                        "justification": {"type": "string", "maxLength": 600},
                        "claims": {
                            "type": "array",
                            "maxItems": 3,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "quote": {"type": "string", "maxLength": 300},
                                    "verdict": {"type": "string", "enum": list(VERDICTS)},
                                },
                                "required": ["quote", "verdict"],
                                "additionalProperties": False,
                            },
                        },
                    },
                    "required": ["label", "weight", "justification", "claims"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["reviews"],
        "additionalProperties": False,
    }


def parse_review(text: str) -> tuple[list[ReviewEntry], list[str]]:
    """Entries read from ``text``, and notes on what had to be repaired."""
    notes: list[str] = []
    data = _load(text, notes)
    rows = _rows(data)
    if rows is None:
        raise Unparseable("the output holds no list of reviews")
    entries = []
    for row in rows:
        entry = _entry(row)
        if entry is None:
            notes.append("an entry without a usable label and weight was skipped")
        else:
            entries.append(entry)
    if not entries:
        raise Unparseable("no review entry had a label and a numeric weight")
    return entries, notes


def _load(text: str, notes: list[str]) -> Any:
    attempts: list[tuple[str, str]] = [("", text.strip())]
    fenced = _FENCE.search(text)
    if fenced:
        attempts.append(("read from a code fence", fenced.group(1).strip()))
    braced = _first_object(text)
    if braced:
        attempts.append(("cut out of surrounding text", braced))
        attempts.append(("closed after being cut off", _close(braced)))
    elif "{" in text:
        attempts.append(("closed after being cut off", _close(text[text.index("{") :])))
    for note, candidate in attempts:
        try:
            data = json.loads(candidate, strict=False)
        except ValueError:
            continue
        if note:
            notes.append(f"review JSON {note}")
        return data
    start = text.find("{")
    if start >= 0:
        for prefix in _complete_prefixes(text[start:]):
            try:
                data = json.loads(_close(prefix), strict=False)
            except ValueError:
                continue
            notes.append("review JSON cut off; kept the entries before the cut")
            return data
    raise Unparseable("the output is not JSON, even after repair")


def _structure(text: str) -> tuple[list[tuple[int, str]], bool]:
    """The positions of ``{ [ ] } ,`` outside JSON strings, and whether ``text`` ends inside
    a string (escapes respected)."""
    marks: list[tuple[int, str]] = []
    in_string, escaped = False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[]},":
            marks.append((i, ch))
    return marks, in_string


def _complete_prefixes(fragment: str) -> list[str]:
    """The fragment cut at each comma outside strings, longest first: a cut-off output
    keeps every element that was complete before the cut."""
    marks, _ = _structure(fragment)
    return [fragment[:i] for i, ch in reversed(marks) if ch == ","]


def _first_object(text: str) -> str | None:
    """The first balanced ``{…}`` (strings respected), or the rest from ``{`` if unbalanced."""
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    for i, ch in _structure(text[start:])[0]:
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start : start + i + 1]
    return text[start:]


def _close(fragment: str) -> str:
    """Close whatever string, arrays and objects a cut-off fragment left open."""
    marks, in_string = _structure(fragment)
    stack: list[str] = []
    for _, ch in marks:
        if ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    repaired = fragment.rstrip()
    if in_string:
        repaired += '"'
    repaired = re.sub(r"[,:]\s*$", "", repaired)
    return repaired + "".join(reversed(stack))


def _rows(data: Any) -> list[Any] | None:
    if isinstance(data, dict):
        for key in ("reviews", "entries", "candidates", "scores"):
            if isinstance(data.get(key), list):
                return list(data[key])
        keyed = [
            {"label": k, **v} for k, v in data.items() if isinstance(v, dict) and "weight" in v
        ]
        return keyed or None
    if isinstance(data, list):
        return data
    return None


def _entry(row: Any) -> ReviewEntry | None:
    if not isinstance(row, dict):
        return None
    label = row.get("label") or row.get("candidate")
    weight = _number(row.get("weight", row.get("score")))
    if not isinstance(label, str) or weight is None:
        return None
    claims = []
    for claim in row.get("claims") or []:
        if isinstance(claim, dict) and isinstance(claim.get("quote"), str):
            said = str(claim.get("verdict", "unverified")).strip().lower()
            verdict: Verdict = "unverified"
            for known in VERDICTS:
                if known == said:
                    verdict = known
            claims.append(Claim(quote=claim["quote"], verdict=verdict))
    justification = row.get("justification") or row.get("reason") or ""
    return ReviewEntry(
        label=label.strip(),
        weight=weight,
        justification=str(justification)[:4000],
        claims=tuple(claims[:5]),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = re.search(r"-?\d+(?:\.\d+)?", value)
        if match is None:
            return None
        number = float(match.group(0))
    else:
        return None
    return number if math.isfinite(number) else None
