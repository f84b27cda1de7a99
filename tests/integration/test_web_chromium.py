"""The web view in a real browser: Debian's headless Chromium loads a deliberation from
the gateway (services in-process on a real NATS) and the test reads the DOM it built.

Chromium is installed by ``make test`` (the Makefile's ``chromium`` step, as root with
apt-get); where it could not be, these tests skip and say why. The screenshot of the
finished deliberation is kept as ``.nsed/webview/deliberation.png``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.aio.client import Client

from schemas import subjects
from services.cli.inspect import task_record
from tests.integration.conftest import ready
from tests.support import nsed
from tests.support.htmltables import cells
from tests.support.inprocess import InProcessServices
from tests.support.wait import until
from tests.support.webview import chromium, chromium_missing, gateway

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

AGENTS = ("alpha", "bravo", "charlie")
SCREENSHOT = Path(__file__).resolve().parents[2] / ".nsed" / "webview" / "deliberation.png"
PNG = b"\x89PNG\r\n\x1a\n"


async def finished(inproc: InProcessServices, nc: Client) -> tuple[str, str]:
    inproc.start_all()
    await ready(nc, agents=AGENTS)
    task_id = nsed.new_task_id("web")
    task = nsed.task(task_id, max_rounds=2, min_rounds=2)
    await nsed.publish_task(nc, task, msg_id=task_id)
    result = await nsed.wait_result(nc, task_id)
    assert result.extracted_answer is not None
    return task_id, result.extracted_answer


async def test_chromium_shows_a_finished_deliberations_rounds_votes_and_answer(
    inproc: InProcessServices, nc: Client, tmp_path: Path
) -> None:
    task_id, answer = await finished(inproc, nc)
    async with gateway(inproc) as url:
        page = f"{url}/deliberations/{task_id}"
        dom = await chromium(page, tmp_path / "profile", "--dump-dom")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.unlink(missing_ok=True)
        await chromium(
            page,
            tmp_path / "profile",
            f"--screenshot={SCREENSHOT}",
            "--window-size=1280,1600",
            "--hide-scrollbars",
        )
    for number in (1, 2):
        assert f'id="round-{number}"' in dom
        votes = cells(dom, f"votes-{number}")
        assert len(votes) >= 3  # a header, reviewers, the scores
        assert any(cell.startswith("Candidate_") for row in votes for cell in row)
    assert f'<span class="big">{answer}</span>' in dom
    assert SCREENSHOT.read_bytes().startswith(PNG)


async def test_chromium_follows_a_running_deliberation_to_its_answer(
    inproc: InProcessServices, nc: Client, tmp_path: Path
) -> None:
    inproc.start_all()
    await ready(nc, agents=AGENTS)
    await inproc.stop("gate")  # the deliberation runs until the test starts the gate again
    task_id = nsed.new_task_id("web")
    await nsed.publish_task(nc, nsed.task(task_id, max_rounds=2, min_rounds=2), msg_id=task_id)
    await until(lambda: task_record(nc, task_id), timeout=15.0, what="the task's record")
    js = nc.jetstream()
    # Only the live stream reads the results stream with a consumer (pages read a result
    # directly): one more consumer there means the page was served and its script runs.
    watchers = (await js.stream_info(subjects.NSED_RESULTS)).state.consumer_count
    async with gateway(inproc) as url:
        # The browser reads the page while the task runs, and waits (in virtual time,
        # which stands still while a request is open) for its script's live stream.
        browser = asyncio.create_task(
            chromium(
                f"{url}/deliberations/{task_id}",
                tmp_path / "profile",
                "--dump-dom",
                "--virtual-time-budget=30000",
            )
        )

        async def subscribed() -> bool:
            info = await js.stream_info(subjects.NSED_RESULTS)
            return info.state.consumer_count > watchers

        await until(subscribed, timeout=30.0, what="the page's live stream")
        inproc.start_service("gate")
        result = await nsed.wait_result(nc, task_id)
        dom = await browser
    assert 'data-ended="true"' in dom  # the script heard the end of the stream
    assert f"<b>{result.status}</b>" in dom
    assert 'id="round-2"' in dom
    assert f'<span class="big">{result.extracted_answer}</span>' in dom
