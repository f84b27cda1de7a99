"""JSON Schema snapshots of every wire message: ``python -m schemas.snapshot`` rewrites them.

A test compares the live schemas with ``schemas/snapshots/``; a change to a message fails
it until the snapshot is regenerated on purpose (and the change is additive, per STYLE 7).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from schemas.record import DeliberationRecord
from schemas.subjects import FLOW
from schemas.team import AgentCard

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def current() -> dict[str, dict[str, Any]]:
    """file name -> JSON Schema, for every message of the flow and the KV values."""
    types: list[type] = [step.message for step in FLOW] + [AgentCard, DeliberationRecord]
    return {f"{t.__name__}.json": msgspec.json.schema(t) for t in types}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    SNAPSHOTS.mkdir(exist_ok=True)
    for stale in SNAPSHOTS.glob("*.json"):
        stale.unlink()
    for name, schema in current().items():
        (SNAPSHOTS / name).write_text(render(schema))
    print(f"wrote {len(current())} schemas to {SNAPSHOTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
