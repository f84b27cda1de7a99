"""The largest value a msgspec type admits, for size bounds (tests only).

``largest(type, alphabet, sizes)`` is plain JSON-ready data (dicts, lists, strings,
numbers) in which every string, list and dict has its maximum length, strings are filled
from ``alphabet`` and every number is the one in its range with the longest JSON form.
``sizes`` maps a path to the size the services guarantee there, where the schema leaves a
container unbounded or bounds it more loosely than the services do: a length, ``Ascii(n)``
for a string the services write from ASCII alone (ids, fixed wording), or None (the field
is null there). Paths: ``$.current.proposals[].reasoning``; ``{}`` a dict's values, ``{key}``
its keys. A string, list or dict with neither a bound nor a size raises ``Unbounded``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec.inspect as mi

from schemas.base import TOKEN_PATTERN
from schemas.limits import CANDIDATE_LABEL_PATTERN, REVIEW_LABEL_CHARS

TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
TOKEN_CHARS = 64
# Every C0 control character but the five with a two-character escape (\b \t \n \f \r):
# six bytes each in JSON (\u0000), the most any one character costs.
COSTLIEST = "".join(chr(c) for c in range(32) if chr(c) not in "\b\t\n\f\r")
LONGEST_FLOAT = -2.2250738585072014e-308  # 24 characters in JSON
# Patterned strings: their alphabet and longest length.
PLAIN_WORDS = {
    TOKEN_PATTERN: (TOKEN_ALPHABET, TOKEN_CHARS),
    CANDIDATE_LABEL_PATTERN: (TOKEN_ALPHABET + ".", REVIEW_LABEL_CHARS),
}
LONGEST_INT = -(2**63)


@dataclass(frozen=True)
class Ascii:
    """A string of ``length`` characters that the services write from ASCII only."""

    length: int


Size = int | Ascii | None


class Unbounded(Exception):
    """A string, list or dict whose size neither its type nor ``sizes`` gives."""


def largest(kind: Any, alphabet: str = COSTLIEST, sizes: Mapping[str, Size] = {}) -> Any:
    return _Filler(alphabet, sizes).fill(mi.type_info(kind), "$")


class _Filler:
    def __init__(self, alphabet: str, sizes: Mapping[str, Size]) -> None:
        self.alphabet = alphabet
        self.sizes = sizes
        self.used: set[str] = set()

    def size(self, path: str, bound: int | None) -> int:
        if path in self.sizes:
            self.used.add(path)
            given = self.sizes[path]
            assert given is not None, path
            if isinstance(given, Ascii):
                given = given.length
            if bound is not None and given > bound:
                raise AssertionError(f"{path}: size {given} exceeds its bound {bound}")
            return given
        if bound is None:
            raise Unbounded(path)
        return bound

    def fill(self, info: mi.Type, path: str) -> Any:
        if path in self.sizes and self.sizes[path] is None:
            self.used.add(path)
            return None
        if isinstance(info, mi.StructType):
            out: dict[str, Any] = {}
            if info.tag_field is not None:
                out[info.tag_field] = info.tag
            for field in info.fields:
                out[field.encode_name] = self.fill(field.type, f"{path}.{field.name}")
            return out
        if isinstance(info, mi.UnionType):
            options = [t for t in info.types if not isinstance(t, mi.NoneType)]
            filled = [self.fill(t, path) for t in options]
            return max(filled, key=lambda v: len(json.dumps(v)))
        if isinstance(info, mi.StrType):
            return self.text(info, path, 0, 1)
        if isinstance(info, (mi.ListType, mi.VarTupleType, mi.SetType, mi.FrozenSetType)):
            count = self.size(path, info.max_length)
            return [self.fill(info.item_type, f"{path}[]") for _ in range(count)]
        if isinstance(info, mi.DictType):
            count = self.size(path, info.max_length)
            keys = [self.key(info.key_type, f"{path}{{key}}", i, count) for i in range(count)]
            assert len(set(keys)) == count, f"{path}: {count} distinct keys"
            return {k: self.fill(info.value_type, f"{path}{{}}") for k in keys}
        if isinstance(info, mi.IntType):
            return _longest_int(info)
        if isinstance(info, mi.FloatType):
            return _longest_float(info)
        if isinstance(info, mi.BoolType):
            return False
        if isinstance(info, mi.NoneType):
            return None
        if isinstance(info, mi.LiteralType):
            return max(info.values, key=lambda v: len(json.dumps(v)))
        raise TypeError(f"{path}: no largest value for {info!r}")

    def text(self, info: mi.StrType, path: str, index: int, count: int) -> str:
        if info.pattern in PLAIN_WORDS:
            alphabet, bound = PLAIN_WORDS[info.pattern]
            length = self.size(path, bound) if path in self.sizes else bound
        elif info.pattern is not None:
            raise TypeError(f"{path}: no largest string for pattern {info.pattern!r}")
        elif isinstance(self.sizes.get(path), Ascii):
            alphabet, length = TOKEN_ALPHABET, self.size(path, info.max_length)
        else:
            alphabet, length = self.alphabet, self.size(path, info.max_length)
        # The index-th of ``count`` strings of that length, distinct (dict keys): the index
        # in base len(alphabet), as wide as the largest index needs.
        width = 0
        while len(alphabet) ** width < count:
            width += 1
        digits = []
        for _ in range(width):
            index, digit = divmod(index, len(alphabet))
            digits.append(alphabet[digit])
        head = (alphabet * (length // len(alphabet) + 1))[: length - width]
        return head + "".join(digits)

    def key(self, info: mi.Type, path: str, index: int, count: int) -> Any:
        if isinstance(info, mi.StrType):
            return self.text(info, path, index, count)
        if isinstance(info, mi.IntType):
            low = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else 0)
            return str(low + index)  # JSON object keys are strings
        raise TypeError(f"{path}: no keys of {info!r}")


def _longest_int(info: mi.IntType) -> int:
    low = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else None)
    high = info.le if info.le is not None else (info.lt - 1 if info.lt is not None else None)
    if low is None or high is None:
        return LONGEST_INT if low is None else max(low, 2**63 - 1)
    return max((low, high), key=lambda v: len(str(v)))


def _longest_float(info: mi.FloatType) -> float:
    low = info.ge if info.ge is not None else info.gt
    high = info.le if info.le is not None else info.lt
    if low is None and high is None:
        return LONGEST_FLOAT
    low = -1e300 if low is None else low
    high = 1e300 if high is None else high
    # A long fraction inside the range (either end may be excluded).
    candidates = [low + (high - low) * f for f in (0.7071067811865476, 0.2928932188134524)]
    return max(candidates, key=lambda v: len(json.dumps(v)))
