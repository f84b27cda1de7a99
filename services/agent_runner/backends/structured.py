"""Reviews as JSON (pure): the schema servers are asked to follow, and a lenient reader
for what they actually send.

Small or random models, and servers whose grammar enforces a schema's shape but not its
ranges, produce JSON with raw control characters, out-of-range numbers, missing fields,
extra prose around it, or a body cut off by ``max_tokens``. ``parse_review`` reads the text
as is when it parses, else through ``json_repair``, and coerces what it finds into review
entries; ballot validation (§5.2) does the rest.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

import json_repair

from schemas.review import Claim, ReviewEntry, Verdict

VERDICTS: tuple[Verdict, ...] = ("verified", "contested", "unverified", "wrong")
MAX_QUOTES = 16
MAX_QUOTE_CHARS = 200
_SENTENCE = re.compile(r"(?<=[.!?;])\s+")
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f\x7f-\x9f]')


class Unparseable(ValueError):
    """No review could be read from the model's output."""


def quote_options(text: str) -> list[str]:
    """The sentences and lines of a candidate's text that a claim may quote: each a verbatim
    piece of it, at most ``MAX_QUOTE_CHARS`` long, at most ``MAX_QUOTES`` spread over the
    text (its ending, where the answer is, always among them). A piece never holds a double
    quote, a backslash or a control character: llama-cpp-python's schema-to-grammar
    converter does not JSON-escape an enum string, so its server aborts on the grammar (a
    quote, a control character) or emits a backslash raw, which JSON then reads as an
    escape ("\\boxed" comes back as a backspace and "oxed")."""
    pieces: list[str] = []
    for line in text.splitlines():
        for sentence in _SENTENCE.split(line):
            for part in _UNQUOTABLE.split(sentence):
                piece = part.strip()[:MAX_QUOTE_CHARS].strip()
                if len(piece) >= 2 and piece not in pieces:
                    pieces.append(piece)
    if len(pieces) <= MAX_QUOTES:
        return pieces
    step = (len(pieces) - 1) / (MAX_QUOTES - 1)
    return [pieces[round(i * step)] for i in range(MAX_QUOTES)]


def review_schema(candidates: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """One entry per candidate, keyed by its label: a weight, a justification and one to
    three claims. ``candidates``: (label, text as shown). Where a candidate's text gives
    quotable pieces, a claim's quote is one of them: a server that enforces the schema
    (a grammar) then cannot emit a quote its candidate does not contain, as it cannot
    emit a label that is not in the packet, an empty justification or an entry without
    a claim. Whether the justification is about the candidate is ballot validation's to
    say."""
    entries = {label: _entry_schema(quote_options(text)) for label, text in candidates}
    return {
        "type": "object",
        "properties": {
            "reviews": {
                "type": "object",
                "properties": entries,
                "required": list(entries),
                "additionalProperties": False,
            }
        },
        "required": ["reviews"],
        "additionalProperties": False,
    }


def _entry_schema(quotes: list[str]) -> dict[str, Any]:
    quote: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 300}
    if quotes:
        quote = {"type": "string", "enum": quotes}
    return {
        "type": "object",
        # The weight first, then what was checked, then why: a body cut off by max_tokens
        # keeps the weight and the quotes.
        "properties": {
            "weight": {"type": "integer", "minimum": -100, "maximum": 100},
            "claims": {
                "type": "array",
                "minItems": 1,
                "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {
                        "quote": quote,
                        "verdict": {"type": "string", "enum": list(VERDICTS)},
                    },
                    "required": ["quote", "verdict"],
                    "additionalProperties": False,
                },
            },
            "justification": {"type": "string", "minLength": 8, "maxLength": 400},
        },
        "required": ["weight", "claims", "justification"],
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
    """The JSON value in ``text``: as is when it parses, else as ``json_repair`` mends it
    (prose or a code fence around it, control characters, a body cut off by max_tokens:
    open strings, arrays and objects closed, the entries before the cut kept)."""
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    try:
        data, log = json_repair.repair_json(text, return_objects=True, logging=True)
    except (ValueError, RecursionError) as exc:
        raise Unparseable(f"the output is not JSON, even after repair: {exc}") from exc
    if data in ("", None) or not isinstance(data, dict | list):
        raise Unparseable("the output is not JSON, even after repair")
    if log:
        notes.append(f"review JSON repaired ({len(log)} fix(es)): {log[0].get('text', '')}")
    return data


def _rows(data: Any, depth: int = 0) -> list[Any] | None:
    if isinstance(data, dict):
        for key in ("reviews", "entries", "candidates", "scores"):
            if isinstance(data.get(key), list):
                return list(data[key])
        keyed = [
            {"label": k, **v} for k, v in data.items() if isinstance(v, dict) and "weight" in v
        ]
        if keyed:
            return keyed
        # A review wrapped once more ({"answer": {"reviews": [...]}}, or what a repair of
        # prose with a brace in it makes of it).
        nested = (_rows(v, depth + 1) for v in data.values() if isinstance(v, dict))
        return next((rows for rows in nested if rows), None) if depth < 2 else None
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
