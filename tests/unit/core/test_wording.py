"""Refusals in plain words: msgspec's phrasing translated, nothing ever lost."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.task import TaskSubmitted
from services.core.wording import plain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"prompt": ""}', "prompt: must not be empty"),
        (b'{"prompt": 5}', "prompt: must be text, not a whole number"),
        (b"{}", "prompt: is required"),
        (b'{"prompt": "p", "policy": {"team_size": 0}}', "policy.team_size: must be at least 1"),
        (b'{"prompt": "p", "policy": {"team_size": 99}}', "policy.team_size: must be at most 32"),
        (b'{"prompt": "p", "task_id": "a b"}', "task_id: must be 1–64 letters, digits, - or _"),
        (b'{"prompt": "p", "answer_format": "nope"}',
         "answer_format: 'nope' is not one of the allowed values"),
        (b'{"prompt": "p", "policy": {"min_team": 3, "team_size": 2}}',
         "policy: min_team (3) exceeds team_size (2)"),
    ],
)  # fmt: skip
def test_a_refused_task_is_told_in_plain_words(raw: bytes, expected: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(raw, type=TaskSubmitted)
    assert plain(str(caught.value)) == expected


class Probe(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(min_length=2, max_length=5)] = "ab"
    count: Annotated[int, msgspec.Meta(ge=1, le=9)] = 1


@given(st.dictionaries(st.sampled_from(["text", "count", "other"]),
                       st.one_of(st.integers(), st.text(max_size=8), st.none())))  # fmt: skip
def test_every_refusal_keeps_the_field_it_concerns_and_never_the_librarys_phrasing(
    raw: dict[str, object],
) -> None:
    try:
        msgspec.convert(raw, Probe)
    except msgspec.ValidationError as exc:
        said = plain(str(exc))
        field = str(exc).rsplit("`$.", 1)[-1].rstrip("`")
        assert said.startswith(f"{field}: ")
        assert "Expected" not in said
