"""``nsed eval`` against a live pool (in-process services, real NATS): every task answered
through the pipeline, the summary's shape, and a second run that resumes from ``--out``."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client

from services.bench.study import DATA
from services.cli.client import CliError
from services.eval import store
from services.eval.run import PLOT, SUMMARY, Settings, evaluate
from services.eval.summary import JSON_KEYS
from tests.integration.conftest import ready
from tests.support.inprocess import InProcessServices
from tests.support.natsserver import NatsServer, free_port

TEAM = ("alpha", "bravo", "charlie")


def three_lines(tmp_path: Path) -> Path:
    path = tmp_path / "gsm8k-3.jsonl"
    path.write_text("".join(DATA.read_text().splitlines(keepends=True)[:3]))
    return path


async def test_eval_answers_every_task_and_a_second_run_resumes_all_of_them(
    inproc: InProcessServices, nc: Client, nats_server: NatsServer, tmp_path: Path
) -> None:
    inproc.start_all(TEAM)
    await ready(nc, agents=TEAM)
    out = tmp_path / "out"
    settings = Settings(
        dataset=three_lines(tmp_path), protocols=("nsed", "vote"), max_rounds=2, out=out
    )
    started: list[tuple[int, int, int]] = []

    first = await evaluate(settings, url=nats_server.url, on_start=lambda *a: started.append(a))

    assert started == [(6, 0, 0)]
    assert (first.new, first.resumed, first.missing) == (6, 0, [])
    report = first.report()
    assert set(report) == {"suite", "dataset", "results"}
    assert (report["suite"], report["dataset"]) == ("eval", "gsm8k-3")
    by_protocol = {r["protocol"]: r for r in report["results"]}
    assert list(by_protocol) == ["nsed", "vote"]
    for result in report["results"]:
        assert tuple(result) == JSON_KEYS
        assert result["tasks"] == 3
        assert 0.0 <= result["accuracy"] <= 1.0
        assert result["tokens_per_task"] > 0
        assert result["seconds_per_task"] > 0
    assert 0.0 < by_protocol["nsed"]["valid_review_rate"] <= 1.0
    assert by_protocol["vote"]["valid_review_rate"] is None

    rows, broken = store.load_rows(out / store.RESULTS)
    assert broken == 0
    assert sorted((r.protocol, r.line) for r in rows) == [
        (p, line) for p in ("nsed", "vote") for line in (1, 2, 3)
    ]
    assert all(r.status in ("completed", "degraded") and r.extracted for r in rows)
    assert all(sorted(r.team) == sorted(TEAM) for r in rows)
    assert all(r.simulated for r in rows)
    assert "| nsed | 3 |" in (out / SUMMARY).read_text()
    assert 'data-strategy="vote"' in (out / PLOT).read_text()

    started.clear()
    second = await evaluate(settings, url=nats_server.url, on_start=lambda *a: started.append(a))

    assert started == [(0, 6, 0)]
    assert (second.new, second.resumed) == (0, 6)
    assert second.report() == report
    assert len(store.load_rows(out / store.RESULTS)[0]) == 6


async def test_a_result_that_arrived_after_an_interruption_is_taken_from_the_stream(
    inproc: InProcessServices, nc: Client, nats_server: NatsServer, tmp_path: Path
) -> None:
    inproc.start_all(TEAM)
    await ready(nc, agents=TEAM)
    out = tmp_path / "out"
    settings = Settings(dataset=three_lines(tmp_path), protocols=("vote",), limit=2, out=out)
    await evaluate(settings, url=nats_server.url)
    path = out / store.RESULTS
    kept, lost = path.read_text().splitlines(keepends=True)
    # The run stopped after the task finished and before its row was written, mid-line.
    path.write_text(kept + lost[:25])

    again = await evaluate(settings, url=nats_server.url)

    assert (again.new, again.resumed) == (1, 1)
    rows, broken = store.load_rows(path)
    assert broken == 1
    lost_row = msgspec.json.decode(lost, type=store.Row)
    [recovered] = [r for r in rows if r.key() == lost_row.key()]
    # The very result of the first run (same id, time and tokens): the task did not run again.
    assert recovered == lost_row


async def test_eval_refuses_to_start_without_services_or_without_nats(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    settings = Settings(dataset=three_lines(tmp_path), protocols=("nsed",))
    with pytest.raises(CliError, match=r"answering on .*is the stack up"):
        await evaluate(settings, url=nats_server.url)
    with pytest.raises(CliError, match="cannot reach NATS"):
        await evaluate(settings, url=f"nats://127.0.0.1:{free_port()}")


async def test_eval_refuses_a_team_member_that_is_not_live(
    inproc: InProcessServices, nc: Client, nats_server: NatsServer, tmp_path: Path
) -> None:
    inproc.start_all(TEAM)
    await ready(nc, agents=TEAM)
    settings = Settings(dataset=three_lines(tmp_path), protocols=("vote",), team=("alpha", "zulu"))
    with pytest.raises(CliError, match="not live: zulu"):
        await evaluate(settings, url=nats_server.url)
