"""Math answers read with math-verify: an answer string in, its exact value out.

Consumes the strings answers.py cuts out of model output (a ``\\boxed{}`` body, a "final
answer" line, a reference answer). Emits the canonical form of a numeric answer, one string
per value: an integer in decimal ("1024"), a non-integer rational as an exact decimal when it
terminates ("-0.5") else "p/q" ("1/3"), anything else numeric as LaTeX ("\\sqrt{2}"); and
whether two math answers are equivalent (math-verify's ``verify``, both ways).

- Plain numbers ("391", "1,234", "-7", "2.50", "1e3", "3/4") take a regex-and-``Fraction``
  path that never imports sympy; math-verify, and sympy with it (~0.3 s), load on first need.
- Values are exact (``int`` and ``Fraction``, never ``float``): 2**60 stays 2**60.
- math-verify's own timeouts use SIGALRM: they only work in the main thread and take over the
  process's one alarm, so they are off (``parsing_timeout=None``, ``timeout_seconds=None``)
  and the guard is ours: only short strings are parsed, and we evaluate powers and factorials
  ourselves within a size bound, never with sympy's ``doit`` on an unbounded expression.
"""

from __future__ import annotations

import logging
import math
import re
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

# Longest string handed to the LaTeX parser; an answer is a short expression, and the
# parser's time grows with the input.
MAX_PARSE_CHARS = 200
# Largest value evaluated exactly (bits, and decimal digits in a plain number: Python's
# int-to-string conversion stops at 4300 digits), and largest factorial argument.
MAX_BITS = 4000
MAX_DIGITS = 1200
MAX_FACTORIAL = 450
# Largest exponent of an irrational or symbolic base that sympy may expand or simplify.
MAX_SYMBOLIC_EXPONENT = 32
# sympy classes never evaluated when they carry a large argument (checked by name so that
# sympy need not be imported to build the set).
_COMBINATORIAL = frozenset({"factorial", "factorial2", "subfactorial", "gamma", "binomial"})

_FLOAT_RANGE = (Fraction(1, 10**MAX_DIGITS), Fraction(10**MAX_DIGITS))
_PLAIN = re.compile(
    r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+|[-+]?\d+/\d+"
)
_PLAIN_FULL = re.compile(rf"(?:{_PLAIN.pattern})")
_INTEGER = re.compile(rf"[-+]?\d{{1,{MAX_DIGITS}}}")
# Thin spaces, negative spaces, ties and "{,}" between digit groups are thousands separators.
_GROUP_SEP = re.compile(r"(?<=\d)(?:\\[,;:! ]|~|\{,\})(?=\d{3}(?!\d))")
_DECORATION = re.compile(r"\\?\$|\*\*|\\!|\\left|\\right|\\[%]|%$")
_WORDS = re.compile(r"[A-Za-z]{2,}")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_MATH_HINT = re.compile(r"[\d\\^_=+*/]")


def tidy(text: str) -> str:
    """Typography that never changes a value: Unicode minus, group separators, ``$``,
    bold, ``\\!``, a trailing full stop, and a trailing percent sign (a unit, like cm)."""
    text = text.replace("\u2212", "-")
    text = _GROUP_SEP.sub(lambda m: "," if m.group(0) == "{,}" else "", text)
    return _DECORATION.sub("", text).strip().rstrip(".").strip()


def plain_value(text: str) -> Fraction | None:
    """The exact value of a plain number, or None if ``text`` is not one (or is too big)."""
    if len(text) > MAX_DIGITS or not _PLAIN_FULL.fullmatch(text):
        return None
    token = text.replace(",", "")
    exponent = token.lower().partition("e")[2]
    if exponent and abs(int(exponent)) > MAX_DIGITS:
        return None
    if "/" in token:
        num, den = token.split("/")
        return _bounded(Fraction(int(num), int(den))) if int(den) else None
    return _bounded(Fraction(token))


def last_plain_value(text: str) -> Fraction | None:
    numbers = _PLAIN.findall(tidy(text))
    return plain_value(numbers[-1]) if numbers else None


def render(value: Fraction) -> str:
    """One string per rational: an integer, else an exact terminating decimal, else p/q."""
    if value.denominator == 1:
        return str(value.numerator)
    den, twos, fives = value.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    digits = str(abs(value.numerator * 10**places // value.denominator)).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def looks_like_math(text: str) -> bool:
    """Short, has a digit or a math sign, and no word outside LaTeX commands: "x^2+1",
    "\\frac{1}{2}", "0.5", but not "Paris", "answer-3f2" or "12 apples"."""
    return (
        len(text) <= MAX_PARSE_CHARS
        and _MATH_HINT.search(text) is not None
        and _WORDS.search(_COMMAND.sub(" ", text)) is None
    )


def number_answer(text: str, *, latex: bool = False) -> str | None:
    """The canonical form of the number ``text`` states, or None if it states none (no
    number, or an expression with unknowns). ``latex``: ``text`` is a ``\\boxed{}`` body."""
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped):  # the common case, before any clean-up or cache
        return str(int(stripped))
    return _number_answer(text, latex)


@lru_cache(maxsize=8192)
def _number_answer(text: str, latex: bool) -> str | None:
    cleaned = tidy(text)
    value = plain_value(cleaned)
    if value is not None:
        return render(value)
    if len(cleaned) > MAX_PARSE_CHARS:
        value = last_plain_value(cleaned)
        return None if value is None else render(value)
    parsed = _parse(_boxed(cleaned) if latex or looks_like_math(cleaned) else cleaned)
    if parsed is None:
        value = last_plain_value(cleaned)
        return None if value is None else render(value)
    return _canonical(parsed)


def equivalent(a: str, b: str) -> bool:
    """Whether two math answers have the same value, by math-verify's ``verify`` both ways
    (its comparison is not symmetric). False if either side does not parse or is too big."""
    return _equivalent(*sorted((a, b)))


@lru_cache(maxsize=4096)
def _equivalent(a: str, b: str) -> bool:
    left, right = _parse(_boxed(tidy(a))), _parse(_boxed(tidy(b)))
    if left is None or right is None or not (_tame(left) and _tame(right)):
        return False
    verify = _math_verify().verify
    return bool(
        verify(left, right, timeout_seconds=None) and verify(right, left, timeout_seconds=None)
    )


@cache
def _math_verify() -> Any:
    import math_verify

    # It warns once that its timeouts are off; they are off on purpose (see the docstring).
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


@lru_cache(maxsize=4096)
def _parse(source: str) -> Any:
    """The first expression math-verify reads in ``source``, or None."""
    mv = _math_verify()
    targets = [mv.LatexExtractionConfig(boxed_match_priority=0), mv.ExprExtractionConfig()]
    found = mv.parse(source, targets, fallback_mode="no_fallback", parsing_timeout=None)
    return found[0] if found and not isinstance(found[0], str) else None


def _boxed(latex: str) -> str:
    return f"\\boxed{{{latex}}}"


def _canonical(expr: Any) -> str | None:
    import sympy

    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
        expr = expr.rhs  # "x = 5" states 5
    if not isinstance(expr, sympy.Basic) or expr.free_symbols:
        return None
    value = _exact(expr)
    if value is not None:
        return render(value)
    if _tame(expr):
        try:
            evaluated = expr.doit()
            value = _exact(evaluated) if _tame(evaluated) else None
            return render(value) if value is not None else str(sympy.latex(evaluated))
        except Exception:  # sympy raises many types on odd input, and str() of a product of
            pass  # bounded powers can pass 4300 digits: the answer as written is still one
    return str(sympy.latex(expr))


def _exact(expr: Any) -> Fraction | None:
    """The exact rational value of an arithmetic expression, within ``MAX_BITS``; None for
    anything else (irrational, unknowns, too big)."""
    import sympy

    if isinstance(expr, sympy.Rational):
        return _bounded(Fraction(int(expr.p), int(expr.q)))
    if isinstance(expr, sympy.Float):
        if not expr.is_finite or not (expr == 0 or _FLOAT_RANGE[0] < abs(expr) < _FLOAT_RANGE[1]):
            return None
        return _bounded(Fraction(str(expr)))
    args = [_exact(arg) for arg in expr.args]
    if not expr.args or any(arg is None for arg in args):
        return None
    values: list[Fraction] = [arg for arg in args if arg is not None]
    if isinstance(expr, sympy.UnevaluatedExpr):
        return values[0]
    if isinstance(expr, sympy.Add):
        return _bounded(sum(values, Fraction(0)))
    if isinstance(expr, sympy.Mul):
        return _bounded(math.prod(values, start=Fraction(1)))
    if isinstance(expr, sympy.Pow):
        return _power(values[0], values[1])
    if isinstance(expr, sympy.factorial) and values[0].denominator == 1:
        n = values[0].numerator
        return Fraction(math.factorial(n)) if 0 <= n <= MAX_FACTORIAL else None
    return None


def _power(base: Fraction, exponent: Fraction) -> Fraction | None:
    if (base == 0 and exponent <= 0) or _too_big(base, exponent):
        return None
    root = _root(base, exponent.denominator)
    return None if root is None else _bounded(root**exponent.numerator)


def _too_big(base: Fraction, exponent: Fraction) -> bool:
    size = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    return abs(base) != 1 and size * abs(exponent) > MAX_BITS


def _root(value: Fraction, degree: int) -> Fraction | None:
    """The exact real ``degree``-th root of ``value`` if it is rational."""
    if degree == 1:
        return value
    if degree > MAX_BITS or (value < 0 and degree % 2 == 0):
        return None
    from sympy import integer_nthroot

    (num, num_exact), (den, den_exact) = (
        integer_nthroot(abs(value.numerator), degree),
        integer_nthroot(value.denominator, degree),
    )
    if not (num_exact and den_exact):
        return None
    return Fraction(int(num) if value > 0 else -int(num), int(den))


def _bounded(value: Fraction) -> Fraction | None:
    limit = MAX_BITS
    if abs(value.numerator).bit_length() > limit or value.denominator.bit_length() > limit:
        return None
    return value


def _tame(expr: Any) -> bool:
    """Whether sympy can evaluate and compare ``expr`` quickly. It is built only from atoms
    (numbers, constants, unknowns), arithmetic, elementary functions, relations, tuples, and
    finite sets or intervals: no sum, product, integral or limit, whose evaluation has no
    bound. Each power's result stays within ``MAX_BITS`` (for an irrational or symbolic
    base, its exponent within ``MAX_SYMBOLIC_EXPONENT``); factorials take small arguments."""
    import sympy

    shapes = (
        *(sympy.Atom, sympy.Add, sympy.Mul, sympy.UnevaluatedExpr, sympy.Tuple),
        *(sympy.FiniteSet, sympy.Interval, sympy.Union, sympy.Rel, sympy.And),
    )
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            if not node.exp.free_symbols and not _small_power(node):
                return False
        elif type(node).__name__ in _COMBINATORIAL:
            for arg in node.args:
                value = None if arg.free_symbols else _exact(arg)
                if value is None or abs(value) > MAX_FACTORIAL:
                    return False
        elif not isinstance(node, shapes) and not _elementary(node):
            return False
    return True


def _small_power(power: Any) -> bool:
    exponent, base = _exact(power.exp), _exact(power.base)
    if exponent is None:
        return False
    if base is None:
        return abs(exponent) <= MAX_SYMBOLIC_EXPONENT
    return not _too_big(base, exponent)


def _elementary(node: Any) -> bool:
    return type(node).__module__.startswith("sympy.functions.elementary.")
