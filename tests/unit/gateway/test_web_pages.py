"""The web view's pages, rendered from a task's events and record (no server)."""

from __future__ import annotations

import re

from services.broker.registry import LiveAgent
from services.gateway import pages
from services.gateway.timeline import Timeline
from tests.support.htmltables import cells

from ..builders import TASK, card
from ..deliberation_events import deliberation, summaries


def timeline_of(events: list[object], task_id: str = TASK) -> Timeline:
    timeline = Timeline(task_id=task_id)
    for event in events:
        timeline.apply(event)
    return timeline


def test_a_finished_deliberation_reads_without_javascript() -> None:
    rec, events = deliberation()
    page = pages.deliberation_page(timeline_of(events), rec)
    assert "<script" not in page
    assert "data-events" not in page
    assert 'id="round-1"' in page
    assert 'id="votes-1"' in page
    assert re.search(r'id="answer".*<span class="big">42</span>', page)
    assert "stopped: <b>evidence</b>" in page


def test_a_running_deliberation_subscribes_to_its_live_updates() -> None:
    rec, events = deliberation(finished=False)
    page = pages.deliberation_page(timeline_of(events), rec)
    assert page.count("<script") == 1
    assert f'data-events="/deliberations/{TASK}/events"' in page
    assert "round 1, gating" in page


def test_the_vote_matrix_shows_each_reviewers_tally_vote_and_the_label_it_saw() -> None:
    rec, events = deliberation()
    tally = rec.current.tally
    assert tally is not None
    page = pages.deliberation_page(timeline_of(events), rec)
    rows = cells(page, "votes-1")
    header, body = rows[0], rows[1:4]
    assert [h.split("seat")[0] for h in header[1:]] == ["agent0", "agent1", "agent2"]
    for seat, cells_of_reviewer in enumerate(body):
        for column, text in enumerate(cells_of_reviewer[1:]):
            if column == seat:
                assert text == "self"
                continue
            vote = tally.votes[seat][f"{TASK}:1:{column}"]
            assert text.startswith("Candidate_")
            assert text.endswith(f"{vote:+.2f}")
    scores = {s.seat: s.score for s in tally.scores}
    assert rows[4][1:] == [f"A = {scores[seat]:.2f}" for seat in range(3)]


def test_an_invalid_ballot_is_shown_with_its_reason_and_no_votes() -> None:
    rec, events = deliberation(notes=("review timed out",))
    rows = cells(pages.deliberation_page(timeline_of(events), rec), "votes-1")
    assert "invalid: review timed out" in rows[3][0]
    # It was sent its packet, so the labels it saw are known; its ballot counted nowhere.
    assert [c.removeprefix("Candidate_")[1:] for c in rows[3][1:3]] == ["–", "–"]
    assert rows[3][3] == "self"


def test_each_agents_tokens_and_cost_come_from_the_result() -> None:
    rec, events = deliberation()
    rows = cells(pages.deliberation_page(timeline_of(events), rec), "team-usage")
    assert [r[1] for r in rows[1:]] == ["agent0", "agent1", "agent2"]
    assert all(r[4:] == ["10", "5", "1", "$0.001000"] for r in rows[1:])


def test_the_trace_links_to_jaeger_only_when_a_url_is_set() -> None:
    rec, events = deliberation()
    timeline = timeline_of(events)
    linked = pages.deliberation_page(timeline, rec, jaeger_url="http://127.0.0.1:16686/")
    assert 'href="http://127.0.0.1:16686/trace/0af7651916cd43dd8448eb211c80319c"' in linked
    assert '<a id="trace"' not in pages.deliberation_page(timeline, rec)


def test_a_redelivered_event_changes_nothing() -> None:
    rec, events = deliberation()
    once = pages.deliberation_page(timeline_of(events), rec)
    assert pages.deliberation_page(timeline_of([*events, *events]), rec) == once


def test_the_index_lists_running_then_recent_deliberations_and_the_pool() -> None:
    done, _ = deliberation(task_id="done-1")
    running, _ = deliberation(task_id="run-1", finished=False)
    pool = [LiveAgent(card=card("alpha"), instances=2, capacity=3, in_flight=1)]
    page = pages.index_page(summaries(done, running), pool, now=done.created_at + 30)
    assert [r[0] for r in cells(page, "running-list")[1:]] == ["run-1"]
    assert [r[0] for r in cells(page, "recent-list")[1:]] == ["done-1"]
    assert cells(page, "pool-list")[1][:2] == ["alpha", "alpha-model"]
    assert 'href="/deliberations/run-1"' in page


def test_a_missing_record_still_renders_the_events() -> None:
    _, events = deliberation()
    page = pages.deliberation_page(timeline_of(events), None)
    assert "no longer in the records bucket" in page
    assert 'id="votes-1"' in page


def test_a_round_without_positive_support_names_its_leader_not_a_winner() -> None:
    against = {0: {1: -60.0, 2: -40.0}, 1: {0: -70.0, 2: -30.0}, 2: {0: -80.0, 1: -20.0}}
    rec, events = deliberation(weights=against, finished=False)
    assert rec.current.tally is not None
    assert not rec.current.tally.supported
    page = pages.deliberation_page(timeline_of(events), rec)
    assert "no supported winner (leading: agent" in page
    assert '<b class="won">leading</b>' in page
    assert '<b class="won">winner</b>' not in page


def test_a_protocol_without_review_shows_no_vote_matrix() -> None:
    rec, events = deliberation(protocol="vote")
    page = pages.deliberation_page(timeline_of(events), rec)
    assert 'id="votes-1"' not in page
    assert "No peer review in protocol vote" in page
    # Without the record, the absent ballots are listed with their reason and no label.
    bare = cells(pages.deliberation_page(timeline_of(events), None), "votes-1")
    assert all("no review in protocol vote" in row[0] for row in bare[1:4])
    assert not any("Candidate_" in cell for row in bare for cell in row)
