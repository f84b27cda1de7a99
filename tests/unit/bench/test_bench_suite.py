"""``make bench`` (``services.bench.suite``): every suite's report is plain data, saved as
JSON and summarised in the table. The quality study is the one suite with a typed report."""

from __future__ import annotations

import json

from services.bench import suite


async def test_the_quality_suite_reports_plain_data_the_table_and_the_json_file_can_hold() -> None:
    report = await suite.quality_suite(tasks=4)
    assert json.loads(json.dumps(report)) == report
    line = suite.quality_line(report)
    assert line.startswith("nsed ")
    assert {row["strategy"] for row in report["strategies"]} >= {"nsed", "best_single"}
