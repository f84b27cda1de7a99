"""A real OpenAI-compatible server for tests: llama-cpp-python's, serving a tiny
Llama-architecture model with random weights that ``write_tiny_llama`` writes with ``gguf``.

The vocabulary is SentencePiece-style with byte fallback (every byte is a token), so any
text tokenizes and any JSON can be generated under a grammar. The model is 2 layers of
width 64: it answers in milliseconds, and says nothing meaningful.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np

from services.stack.natsserver import free_port

N_EMBD, N_LAYER, N_HEAD, N_FF, N_CTX = 64, 2, 4, 128, 16384


def write_tiny_llama(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []

    def token(text: str, score: float, kind: gguf.TokenType) -> None:
        tokens.append(text)
        scores.append(score)
        types.append(kind)

    token("<unk>", 0.0, gguf.TokenType.UNKNOWN)
    token("<s>", 0.0, gguf.TokenType.CONTROL)
    token("</s>", 0.0, gguf.TokenType.CONTROL)
    for byte in range(256):
        token(f"<0x{byte:02X}>", 0.0, gguf.TokenType.BYTE)
    token("▁", -1.0, gguf.TokenType.NORMAL)
    for code in range(33, 127):
        token(chr(code), -2.0, gguf.TokenType.NORMAL)
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)

    def weights(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    def ones(name: str) -> None:
        writer.add_tensor(name, np.ones(N_EMBD, dtype=np.float32))

    weights("token_embd.weight", len(tokens), N_EMBD)
    ones("output_norm.weight")
    weights("output.weight", len(tokens), N_EMBD)
    for i in range(N_LAYER):
        ones(f"blk.{i}.attn_norm.weight")
        for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
            weights(f"blk.{i}.{part}.weight", N_EMBD, N_EMBD)
        ones(f"blk.{i}.ffn_norm.weight")
        weights(f"blk.{i}.ffn_gate.weight", N_FF, N_EMBD)
        weights(f"blk.{i}.ffn_up.weight", N_FF, N_EMBD)
        weights(f"blk.{i}.ffn_down.weight", N_EMBD, N_FF)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@contextlib.contextmanager
def llama_server(model: Path, log: Path, timeout: float = 60.0) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port; yields base_url."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
             "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", "1"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("llama server did not come up") from None
                time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
