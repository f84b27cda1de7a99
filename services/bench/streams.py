"""What a window of work cost the NATS server, from its own counters: messages stored per
stream (a stream's last sequence only grows; a KV bucket is a stream, so a record write is
a message of ``KV_nsed_deliberations``) and deliveries per durable consumer (its consumer
sequence counts every delivery, redeliveries of a timer not yet due included). Read before
and after a window, the differences divided by the rounds run are the round's costs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client

from schemas import subjects

RECORDS = f"KV_{subjects.DELIBERATIONS_BUCKET}"
RUNNERS = "agent runners"


@dataclass(frozen=True)
class Counters:
    stored: dict[str, int]  # stream -> last sequence
    delivered: dict[str, int]  # durable consumer (runners grouped) -> deliveries


def _group(consumer: str) -> str:
    return RUNNERS if consumer.startswith("agent-") else consumer


async def read(nc: Client, skip: Collection[str] = ()) -> Counters:
    js = nc.jetstream(timeout=5.0)
    stored: dict[str, int] = {}
    delivered: dict[str, int] = {}
    for info in await js.streams_info():
        name = str(info.config.name)
        if name in skip:
            continue
        stored[name] = info.state.last_seq
        for consumer in await js.consumers_info(name):
            durable = consumer.config.durable_name
            if durable:  # an ephemeral one (a watcher, a client) is no service's work
                key = _group(durable)
                seen = consumer.delivered.consumer_seq if consumer.delivered else 0
                delivered[key] = delivered.get(key, 0) + (seen or 0)
    return Counters(stored=stored, delivered=delivered)


def _rate(before: dict[str, int], after: dict[str, int], per: int) -> dict[str, float]:
    return {
        name: (n - before.get(name, 0)) / per
        for name, n in sorted(after.items())
        if n > before.get(name, 0)
    }


def _tenths(rates: dict[str, float]) -> dict[str, float]:
    return {name: round(n, 1) for name, n in rates.items()}


def per_round(before: Counters, after: Counters, rounds: int) -> dict[str, Any]:
    """The window's messages, record writes and deliveries per round."""
    stored = _rate(before.stored, after.stored, rounds)
    delivered = _rate(before.delivered, after.delivered, rounds)
    kv = sum(n for name, n in stored.items() if name.startswith("KV_"))
    return {
        "messages_per_round_by_stream": _tenths(stored),
        "stream_messages_per_round": round(sum(stored.values()) - kv, 1),
        "record_writes_per_round": round(stored.get(RECORDS, 0.0), 1),
        "kv_writes_per_round": round(kv, 1),
        "deliveries_per_round_by_consumer": _tenths(delivered),
        "deliveries_per_round": round(sum(delivered.values()), 1),
    }
