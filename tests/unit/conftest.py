"""Fixtures of the unit tier: the services over one in-memory record store (and reference
store) and one hand-driven clock (``services/inmemory.py``, wired by the services' own
routes), with three live agents in the registry — the services without NATS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from services.broker.settings import BrokerSettings
from services.inmemory import InMemoryServices, in_memory

from .builders import NOW, Clock, card


@pytest.fixture
def inmem() -> InMemoryServices:
    return new_inmem()


def new_inmem() -> InMemoryServices:
    """Fresh in-memory services (for a property test, one per example)."""
    inmem = in_memory(Clock(NOW), broker_settings=BrokerSettings(min_phase_timeout_s=30.0))
    for agent_id, p_g in (("alpha", 0.6), ("bravo", 0.55), ("charlie", 0.5)):
        inmem.registry.put(
            f"{agent_id}.i1", card(agent_id, p_g=p_g, p_v=p_g + 0.25, latency_p95_s=1.0)
        )
    return inmem


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
