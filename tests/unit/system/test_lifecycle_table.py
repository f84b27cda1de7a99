"""The record's life-cycle table (the docstring of ``schemas/record.py``, repeated in the
README) names, for each transition, a service that consumes the message it is on and a
pure function that exists; and the intake's pure decisions hold for any input."""

from __future__ import annotations

import importlib
import re
import time
from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

import schemas.record
from schemas import subjects
from schemas.base import TOKEN_PATTERN
from services.broker.transitions import readable_task_id
from services.inmemory import in_memory

README = Path(__file__).resolve().parents[3] / "README.md"
ROW = re.compile(r"^\| (?!transition |---)(.+) \| (\w+) \| `(\w+)`(.*?) \| `([\w/]+)\.(\w+)` \|$")


def rows(text: str) -> list[tuple[str, ...]]:
    return [m.groups() for line in text.splitlines() if (m := ROW.match(line))]


def test_the_readme_shows_the_records_table_as_its_schema_states_it() -> None:
    table = rows(schemas.record.__doc__ or "")
    assert len(table) >= 10
    assert rows(README.read_text()) == table


def test_every_transition_is_a_pure_function_of_its_owner_on_a_message_it_consumes() -> None:
    routes = in_memory(time.time).routes()
    messages = {step.message.__name__: step.message for step in subjects.FLOW}
    for _, owner, message, _, module, function in rows(schemas.record.__doc__ or ""):
        transition = getattr(importlib.import_module(f"services.{module.replace('/', '.')}"),
                             function)  # fmt: skip
        assert callable(transition), (module, function)
        assert owner in subjects.step_of(messages[message]).consumers, (owner, message)
        consumed = {t for route in routes[owner] for t in route.consumes}
        assert messages[message] in consumed, (owner, message)


tokens = st.from_regex(TOKEN_PATTERN, fullmatch=True)


@given(task_id=tokens | st.text(max_size=70) | st.integers() | st.none(), extra=st.booleans())
def test_a_rejected_payload_yields_its_task_id_exactly_when_it_is_a_token(
    task_id: object, extra: bool
) -> None:
    raw: dict[str, object] = {"task_id": task_id, "prompt": ""}
    if extra:
        raw["policy"] = {"team_size": 0}
    found = readable_task_id(msgspec.json.encode(raw))
    well_formed = isinstance(task_id, str) and re.fullmatch(TOKEN_PATTERN, task_id) is not None
    assert found == (task_id if well_formed else None)


@given(st.binary(max_size=64))
def test_any_bytes_yield_a_task_id_or_none_and_never_raise(payload: bytes) -> None:
    found = readable_task_id(payload)
    assert found is None or re.fullmatch(TOKEN_PATTERN, found)
