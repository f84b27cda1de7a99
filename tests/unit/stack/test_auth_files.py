"""The stack's principals on disk (``services.stack.auth``) and which key a process uses
(``services._runtime.credentials``)."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import stat
from pathlib import Path

import pytest

from services._runtime import credentials
from services._runtime.errors import ConfigError
from services.stack import auth
from services.stack.permissions import Agent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_private_made_once_and_kept(tmp_path: Path) -> None:
    first = auth.ensure_key(tmp_path, "broker")
    path = credentials.key_file(tmp_path, "broker")
    assert first.startswith("U")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert auth.ensure_key(tmp_path, "broker") == first
    assert auth.ensure_key(tmp_path, "voter") != first


def test_the_authorization_names_every_principal_once_and_the_anonymous_client(
    tmp_path: Path,
) -> None:
    written = auth.write(tmp_path, [Agent("alpha", True), Agent("bravo", False)])
    text = written.read_text()
    assert mode(written) == 0o600
    principals = ("broker", "reviewer", "voter", "gate", "gateway", "admin",
                  "agent-alpha", "agent-bravo", "client")  # fmt: skip
    public = {
        p: auth.public_key(credentials.key_file(tmp_path, p).read_bytes()) for p in principals
    }
    for key in public.values():
        assert text.count(key) == 1 + (key == public["client"])
    users = [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
    assert len(users) == len(principals)
    [client] = [u for u in users if u["nkey"] == public["client"]]
    assert client["permissions"]["publish"]["allow"] == ["nsed.tasks"]
    assert f'no_auth_user: "{public["client"]}"' in text
    assert "password" not in text


def test_another_pool_keeps_the_keys_and_enrolled_agents_follow_the_pool(tmp_path: Path) -> None:
    auth.write(tmp_path, [Agent("alpha", True)])
    key = credentials.key_file(tmp_path, "admin").read_bytes()
    auth.write(tmp_path, [Agent("bravo", False)])
    assert credentials.key_file(tmp_path, "admin").read_bytes() == key
    assert auth.load_agents(tmp_path) == [Agent("bravo", False)]
    assert "agent-alpha" not in (tmp_path / "auth" / auth.CONFIG).read_text()


def test_a_runner_started_by_hand_is_enrolled_once(tmp_path: Path) -> None:
    auth.write(tmp_path, [Agent("alpha", True)])
    assert auth.enrol(tmp_path, Agent("stray", True))
    assert not auth.enrol(tmp_path, Agent("stray", True))
    assert auth.load_agents(tmp_path) == [Agent("alpha", True), Agent("stray", True)]
    assert "# agent-stray" in (tmp_path / "auth" / auth.CONFIG).read_text()


def test_the_server_config_is_the_checkouts_then_the_authorization(tmp_path: Path) -> None:
    base = Path(__file__).resolve().parents[3] / "infra" / "nats" / "nats-server.conf"
    written = auth.server_config(tmp_path / "nats-server.conf", base)
    text = written.read_text()
    assert base.read_text().strip() in text
    assert text.rstrip().endswith("include ./auth/auth.conf")


def test_a_process_uses_the_named_key_else_its_own_else_none(tmp_path: Path) -> None:
    anonymous = credentials.for_principal("gate", tmp_path, env={})
    assert anonymous.seed is None
    assert anonymous.options() == {}
    auth.ensure_key(tmp_path, "gate")
    own = credentials.for_principal("gate", tmp_path, env={})
    assert own.seed == credentials.key_file(tmp_path, "gate")
    assert own.options()["inbox_prefix"] == "_INBOX_gate"
    named = tmp_path / "elsewhere.nk"
    named.write_bytes(credentials.key_file(tmp_path, "gate").read_bytes())
    given = credentials.for_principal("gate", tmp_path, env={credentials.ENV: str(named)})
    assert given.seed == named
    with pytest.raises(ConfigError, match="NSED_NATS_NKEY"):
        credentials.for_principal("gate", tmp_path, env={credentials.ENV: str(tmp_path / "no")})


def _enrol_many(home: str, prefix: str, count: int) -> None:
    for n in range(count):
        auth.enrol(home, Agent(f"{prefix}-{n}", True))


def test_runners_enrolling_at_once_are_all_enrolled(tmp_path: Path) -> None:
    # Four processes, as four `nsed agent enrol` started together: each read-modify-write
    # of agents.json must see the others' (a lost update leaves a runner without a key).
    auth.write(tmp_path, [Agent("alpha", True)])
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=context) as pool:
        done = [pool.submit(_enrol_many, str(tmp_path), f"r{p}", 12) for p in range(4)]
        for future in done:
            future.result()
    enrolled = {a.agent_id for a in auth.load_agents(tmp_path)}
    expected = {"alpha"} | {f"r{p}-{n}" for p in range(4) for n in range(12)}
    assert enrolled == expected
    config = (tmp_path / "auth" / auth.CONFIG).read_text()
    assert all(f"# agent-{agent}\n" in config for agent in expected)
