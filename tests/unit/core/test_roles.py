"""A role's instruction: the policy's own, else the built-in one of a well-known role, and
a policy can only give instructions, of bounded length, to roles its seats have."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.task import ROLE_INSTRUCTION_MAX_CHARS, Policy, TaskSubmitted
from services.core.roles import DEFAULTS, instruction

decoder = msgspec.json.Decoder(TaskSubmitted)
TWO_ROLES = {"solver": 2, "verifier": 1}


def test_the_well_known_roles_have_distinct_built_in_instructions_within_the_bound() -> None:
    assert {"solver", "verifier", "domain-expert", "skeptic"} <= set(DEFAULTS)
    assert len(set(DEFAULTS.values())) == len(DEFAULTS)
    assert all(0 < len(text) <= ROLE_INSTRUCTION_MAX_CHARS for text in DEFAULTS.values())
    for role, text in DEFAULTS.items():
        Policy(team_size=1, min_team=1, roles={role: 1}, role_instructions={role: text})


def test_a_member_and_moas_aggregator_have_no_instruction() -> None:
    assert instruction(Policy(), "member") is None
    assert instruction(Policy(team_size=3, roles=TWO_ROLES), "aggregator") is None


def test_the_policys_instruction_replaces_the_built_in_one_and_blank_removes_it() -> None:
    own = Policy(team_size=3, roles=TWO_ROLES, role_instructions={"verifier": "Recount."})
    assert instruction(own, "verifier") == "Recount."
    assert instruction(own, "solver") == DEFAULTS["solver"]
    silent = Policy(team_size=3, roles=TWO_ROLES, role_instructions={"solver": " \n"})
    assert instruction(silent, "solver") is None


def test_a_role_of_the_policys_own_has_only_the_instruction_it_is_given() -> None:
    policy = Policy(team_size=2, roles={"historian": 1, "member": 1},
                    role_instructions={"historian": "Date every claim."})  # fmt: skip
    assert instruction(policy, "historian") == "Date every claim."
    assert instruction(Policy(team_size=2, roles={"historian": 2}), "historian") is None


role_names = st.sampled_from(["solver", "verifier", "skeptic", "member", "aggregator", "x-1"])


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(role_names, st.integers(1, 3), max_size=3),
    st.dictionaries(role_names | st.text(max_size=5), st.text(max_size=40) | st.just("y" * 2001),
                    max_size=3),
)  # fmt: skip
def test_a_decoded_policy_gives_bounded_instructions_to_its_own_roles_only(
    roles: dict[str, int], instructions: dict[str, str]
) -> None:
    raw: dict[str, Any] = {"role_instructions": instructions}
    if roles:
        raw |= {"roles": roles, "team_size": sum(roles.values()), "min_team": 1}
    try:
        policy = decoder.decode(msgspec.json.encode({"prompt": "p", "policy": raw})).policy
    except msgspec.ValidationError as error:
        problem = str(error)
    else:
        problem = ""
    if problem:
        assert "\n" not in problem  # one readable line
        return
    seated = set(policy.seat_roles())
    assert set(policy.role_instructions) <= seated
    assert "aggregator" not in seated
    for role in seated:
        given_text = policy.role_instructions.get(role)
        expected = DEFAULTS.get(role) if given_text is None else given_text
        assert instruction(policy, role) == (expected if expected and expected.strip() else None)
        assert len(instruction(policy, role) or "") <= ROLE_INSTRUCTION_MAX_CHARS


@pytest.mark.parametrize("role", sorted(DEFAULTS))
def test_every_built_in_instruction_speaks_to_both_proposing_and_reviewing(role: str) -> None:
    assert "review" in DEFAULTS[role]
