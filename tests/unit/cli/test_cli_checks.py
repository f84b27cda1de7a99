"""What `nsed submit` refuses before it publishes, and what it only warns about."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import Policy, TaskSubmitted
from schemas.team import DomainPrior
from services.broker.registry import LiveAgent
from services.cli.checks import Asked, against_pool, has_options, option_letters, refusal

from ..builders import card

STYLES = ("({}) ", "{}) ", "{}. ", "{}: ", "- {}. ", "**{}.** ")
LETTERS = "ABCDEFGHIJ"


@settings(max_examples=300, deadline=None)
@given(
    question=st.text(alphabet="abcdefghij klmnop?0123456789,", max_size=80),
    count=st.integers(min_value=2, max_value=10),
    styles=st.lists(st.sampled_from(STYLES), min_size=10, max_size=10),
    texts=st.lists(st.text(alphabet="abcxyz 0123456789+-=/", max_size=20), min_size=10),
    indent=st.sampled_from(["", "  ", "\t"]),
)
def test_options_written_one_per_line_in_any_style_are_found(
    question: str, count: int, styles: list[str], texts: list[str], indent: str
) -> None:
    lines = [indent + styles[i].format(LETTERS[i]) + texts[i] for i in range(count)]
    prompt = question + "\n" + "\n".join(lines)
    assert option_letters(prompt) == set(LETTERS[:count])
    assert has_options(prompt)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_characters="ABCDEFGHIJ", codec="utf-8")))
def test_a_prompt_without_capital_option_letters_shows_no_options(prompt: str) -> None:
    assert not has_options(prompt)


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("Which is prime? (A) 4 (B) 7 (C) 9", True),  # inline, parenthesised
        ("Which is prime?\nA) 4\nB) 7", True),
        ("Which is prime? A) 4 B) 7 C) 9", True),
        ("A. Smith wrote it. Who?", False),  # one marker is a name, not a choice
        ("What is 6*7?", False),
        ("Is BAD a word? DEAD? ACE?", False),  # capitals, but no markers
    ],
)
def test_option_detection_examples(prompt: str, found: bool) -> None:
    assert has_options(prompt) is found


def task(prompt: str = "What is 6*7?", **fields: Any) -> TaskSubmitted:
    policy = Policy(**fields.pop("policy", {}))
    return TaskSubmitted(task_id="t", prompt=prompt, policy=policy, **fields)


@pytest.mark.parametrize(
    ("built", "words"),
    [
        (task(policy={"team_size": 1, "min_team": 1}), "nsed needs a team of at least 2"),
        (task(policy={"team_size": 1, "min_team": 1, "protocol": "debate"}), "debate needs"),
        (task(answer_format="integer", reference_answer="forty-two"), "not an integer"),
        (task(answer_format="integer", reference_answer="18.5"), "not an integer"),
        (task("Pick the best one.", answer_format="choice"), "shows no options"),
    ],
)
def test_what_cannot_work_is_refused_with_a_reason(built: TaskSubmitted, words: str) -> None:
    reason = refusal(built)
    assert reason is not None
    assert words in reason


@pytest.mark.parametrize(
    "built",
    [
        task(policy={"team_size": 1, "min_team": 1, "protocol": "vote"}),
        task(answer_format="integer", reference_answer="42"),
        task(answer_format="integer", reference_answer="1,000"),
        task(answer_format="integer", reference_answer="$18"),
        task("Which is prime?\nA. 4\nB. 7", answer_format="choice", reference_answer="B"),
        task(answer_format="text", reference_answer="forty-two"),
    ],
)
def test_what_can_work_is_not_refused(built: TaskSubmitted) -> None:
    assert refusal(built) is None


def pool(*families: str, domains: tuple[str, ...] = ("default",)) -> list[LiveAgent]:
    prior = {d: DomainPrior() for d in domains}
    return [
        LiveAgent(
            card=msgspec.structs.replace(card(f"agent{i}", family=f), domains=prior),
            instances=1,
            capacity=1,
            in_flight=0,
        )
        for i, f in enumerate(families)
    ]


SIZE = Asked(team_size=True)


def test_a_team_larger_than_the_live_pool_is_refused_saying_how_many_are_live() -> None:
    reason, _ = against_pool(task(policy={"team_size": 8}), pool("a", "b", "c", "d", "e"), SIZE)
    assert reason is not None
    assert "--team-size 8, but 5 agent(s) are live" in reason
    # Repeat seats let four agents fill six seats; a default team size is the broker's to fit.
    repeat = task(policy={"team_size": 6, "allow_repeat_seats": True})
    assert against_pool(repeat, pool("a", "b", "c", "d"), SIZE) == (None, [])
    assert against_pool(task(policy={"team_size": 6}), pool("a", "b"), Asked()) == (None, [])


def test_a_team_the_family_limit_cannot_seat_is_refused_with_the_flags_that_help() -> None:
    same = pool("qwen", "qwen", "qwen")
    reason, _ = against_pool(task(policy={"team_size": 3}), same, SIZE)
    assert reason is not None
    assert "at most 1 of the 3 live agents can sit together (1 family" in reason
    assert "--max-per-family" in reason
    assert "--allow-repeat-seats" in reason
    wider = task(policy={"team_size": 3, "max_per_family": 3})
    assert against_pool(wider, same, SIZE) == (None, [])


def test_no_live_agent_is_refused() -> None:
    reason, _ = against_pool(task(), [], Asked())
    assert reason is not None
    assert "no live agents" in reason


def test_an_unknown_domain_is_a_warning_not_a_refusal() -> None:
    live = pool("a", "b", domains=("default", "math"))
    reason, warnings = against_pool(task(domain="chemistry"), live, Asked(domain=True))
    assert reason is None
    assert warnings == [
        "no live agent declares the domain 'chemistry' (declared: default, math); "
        "their default priors apply"
    ]
    assert against_pool(task(domain="math"), live, Asked(domain=True)) == (None, [])
    assert against_pool(task(domain="chemistry"), live, Asked()) == (None, [])
