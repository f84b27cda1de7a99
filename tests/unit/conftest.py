"""Fixtures of the unit tier: every service's handler dependencies over one in-memory record
store (and reference store) and one hand-driven clock — the services without NATS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from services._runtime.records import InMemoryRecordStore
from services._runtime.references import InMemoryReferenceStore
from services.broker.handlers import BrokerDeps
from services.broker.registry import Registry
from services.broker.settings import BrokerSettings
from services.gate.handlers import GateDeps
from services.gate.settings import GateSettings
from services.reviewer.handlers import ReviewerDeps
from services.reviewer.settings import ReviewerSettings
from services.voter.handlers import VoterDeps
from services.voter.settings import VoterSettings

from .builders import NOW, Clock, card


@dataclass
class Stack:
    store: InMemoryRecordStore
    references: InMemoryReferenceStore
    clock: Clock
    registry: Registry
    broker: BrokerDeps
    reviewer: ReviewerDeps
    voter: VoterDeps
    gate: GateDeps


@pytest.fixture
def stack() -> Stack:
    return new_stack()


def new_stack() -> Stack:
    """A fresh unit stack (for a property test, one per example)."""
    store = InMemoryRecordStore()
    references = InMemoryReferenceStore()
    clock = Clock(NOW)
    registry = Registry(stale_after_s=10.0, clock=clock)
    for agent_id, p_g in (("alpha", 0.6), ("bravo", 0.55), ("charlie", 0.5)):
        registry.put(f"{agent_id}.i1", card(agent_id, p_g=p_g, p_v=p_g + 0.25, latency_p95_s=1.0))
    return Stack(
        store=store,
        references=references,
        clock=clock,
        registry=registry,
        broker=BrokerDeps(
            store=store,
            registry=registry,
            clock=clock,
            settings=BrokerSettings(min_phase_timeout_s=30.0),
            references=references,
        ),
        reviewer=ReviewerDeps(store=store, clock=clock, settings=ReviewerSettings()),
        voter=VoterDeps(store=store, clock=clock, settings=VoterSettings()),
        gate=GateDeps(store=store, clock=clock, settings=GateSettings()),
    )


@pytest.fixture(scope="session")
def gbnf_parses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], bool]]:
    """Whether llama.cpp's own grammar parser takes a GBNF grammar (what a llama.cpp or
    llama-cpp-python server does with it; a grammar it refuses aborts the server). The
    parser needs a vocabulary to build its sampler: the tiny test model's will do."""
    import llama_cpp

    from tests.support.tinyllama import write_tiny_llama

    path = write_tiny_llama(tmp_path_factory.mktemp("vocab") / "tiny.gguf")
    # verbose: its quiet mode leaves /dev/null handles open until exit (ResourceWarning)
    model = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=True)
    vocab = llama_cpp.llama_model_get_vocab(model.model)

    def parses(grammar: str) -> bool:
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    yield parses
    model.close()
