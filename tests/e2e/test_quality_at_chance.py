"""No truth reaches a deliberation except through reviews: with reviewers at chance
(p_v = 0.5), nsed is no better than majority vote at equal token cost; with sharp reviewers
the same comparison does find it better, so the test can tell the two apart."""

from __future__ import annotations

import pytest

from services.bench import qmap, study


@pytest.mark.timeout(400)
async def test_with_reviewers_at_chance_nsed_is_no_better_than_equal_cost_majority() -> None:
    problems = study.load_gsm8k(200)
    at_chance = await qmap.cell(0.55, 0.5, problems)
    print(at_chance)
    assert at_chance["delta"] <= 2 * at_chance["stderr"], at_chance
    assert at_chance["verdict"] != "nsed better"
    sharp = await qmap.cell(0.55, 0.95, problems[:100])
    print(sharp)
    assert sharp["verdict"] == "nsed better", sharp
