"""The contract between the services and the flow table, and the wire schemas' stability."""

from __future__ import annotations

import collections.abc
import inspect
import time
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from schemas import snapshot, subjects
from schemas.base import Message
from schemas.subjects import FLOW, step_of
from services._runtime.route import Route
from services.agent_runner.config import load_pool
from services.inmemory import in_memory

POOL = Path(__file__).resolve().parents[2] / "data" / "pool.toml"


def all_routes() -> dict[str, tuple[Route, ...]]:
    """Every service's routes, as the services build them (``InMemoryServices.routes``)."""
    services = in_memory(time.time)
    services.add_agent(load_pool(POOL).agent("alpha"))
    return services.routes()


@pytest.mark.parametrize("service", ["broker", "agent_runner", "reviewer", "voter", "gate"])
def test_every_route_consumes_and_emits_what_the_flow_table_says(service: str) -> None:
    for route in all_routes()[service]:
        for message in route.consumes:
            assert service in step_of(message).consumers, (route.name, message.__name__)
        for message in route.emits:
            assert service in step_of(message).producers, (route.name, message.__name__)
        assert route.stream == step_of(route.consumes[0]).stream


def message_types(annotation: Any) -> set[type[Message]]:
    """The message types a return annotation allows: through unions, ``None`` and
    sequences."""
    if isinstance(annotation, type) and issubclass(annotation, Message):
        return {annotation}
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union, collections.abc.Sequence, list, tuple):
        return {t for arg in typing.get_args(annotation) for t in message_types(arg)}
    return set()


def test_every_route_declares_exactly_the_types_its_handler_returns() -> None:
    for routes in all_routes().values():
        for route in routes:
            handle = inspect.unwrap(route.handler)
            returned = typing.get_type_hints(handle)["return"]
            assert message_types(returned) == set(route.emits), route.name


def test_every_flow_step_has_a_consuming_route_unless_people_read_it() -> None:
    consumed = {m for routes in all_routes().values() for r in routes for m in r.consumes}
    for step in FLOW:
        if set(step.consumers) <= {"observers", "client"}:
            continue
        assert step.message in consumed, step.message.__name__


def test_durable_names_are_unique_and_filters_stay_inside_their_streams() -> None:
    names = [r.name for routes in all_routes().values() for r in routes]
    assert len(names) == len(set(names))
    for routes in all_routes().values():
        for route in routes:
            prefix = subjects.STREAM_SUBJECTS[route.stream].rstrip(">").rstrip(".")
            assert route.subject.startswith(prefix), route.subject


@pytest.mark.parametrize("name", sorted(snapshot.current()))
def test_wire_schemas_match_their_snapshots(name: str) -> None:
    stored = snapshot.SNAPSHOTS / name
    assert stored.exists(), f"no snapshot for {name}: run `python -m schemas.snapshot`"
    assert snapshot.render(snapshot.current()[name]) == stored.read_text(), (
        f"{name} changed: if on purpose (and additive), run `python -m schemas.snapshot`"
    )


def test_no_snapshot_is_left_for_a_message_that_no_longer_exists() -> None:
    assert {p.name for p in snapshot.SNAPSHOTS.glob("*.json")} == set(snapshot.current())
