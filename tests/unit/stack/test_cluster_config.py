"""The local NATS cluster's plan and its supervisord config: every node routes to every
other, each has its own name, port and store, and every process is given every node."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.agent_runner.config import load_pool
from services.cli import client
from services.stack import cluster
from services.stack.supervisor import StackPaths, render

ROOT = Path(__file__).resolve().parents[3]
POOL = ROOT / "tests" / "data" / "pool.toml"
HOME = Path("/srv/nsed-home")


def _nodes(size: int, first_port: int = 14222) -> list[cluster.Node]:
    urls = [f"nats://127.0.0.1:{first_port + i}" for i in range(size)]
    return cluster.plan(urls, [first_port + 1000 + i for i in range(size)], HOME)


@given(st.integers(min_value=2, max_value=7), st.integers(min_value=1024, max_value=60000))
def test_every_node_routes_to_every_other_node_and_never_to_itself(
    size: int, first_port: int
) -> None:
    nodes = _nodes(size, first_port)
    assert len({n.name for n in nodes}) == len({n.store for n in nodes}) == size
    assert all(n.store.parent == HOME for n in nodes)
    for node in nodes:
        args = cluster.server_args(node, nodes)
        flags = dict(zip(args[::2], args[1::2], strict=True))
        routes = flags["--routes"].split(",")
        assert sorted(routes) == sorted(other.route for other in nodes if other != node)
        assert flags["--name"] == node.name
        assert flags["--cluster"] == node.route
        assert flags["--cluster_name"] == cluster.CLUSTER_NAME


def test_a_single_server_has_no_cluster_flags_and_keeps_its_store() -> None:
    [node] = cluster.plan(["nats://localhost:4222"], [], HOME)
    assert (node.name, node.listen, node.store) == ("nats", "127.0.0.1:4222", HOME / "nats")
    assert cluster.server_args(node, [node]) == []
    assert cluster.replicas([node]) == 1


@given(st.integers(min_value=1, max_value=60000), st.sampled_from(cluster.SIZES))
def test_one_url_gives_the_nodes_the_ports_after_it(port: int, size: int) -> None:
    urls = cluster.node_urls(f"nats://127.0.0.1:{port}", size)
    assert urls == [f"nats://127.0.0.1:{port + i}" for i in range(size)]


def test_a_setting_with_as_many_urls_as_nodes_is_taken_as_it_is_and_others_refused() -> None:
    three = "nats://a:1, nats://b:2,nats://c:3"
    assert cluster.node_urls(three, 3) == ["nats://a:1", "nats://b:2", "nats://c:3"]
    with pytest.raises(ValueError, match="names 2 servers; a stack of 3 node"):
        cluster.node_urls("nats://a:1,nats://b:2", 3)


def _config(text: str) -> configparser.RawConfigParser:
    config = configparser.RawConfigParser()
    config.read_string(text)
    return config


def test_the_stack_config_runs_three_nodes_and_gives_every_process_all_of_them() -> None:
    nodes = _nodes(3)
    paths = StackPaths(root=ROOT, home=HOME)
    config = _config(render(paths, load_pool(POOL), POOL, "ignored", nodes=nodes))
    programs = [s.removeprefix("program:") for s in config.sections() if s.startswith("program:")]
    assert [p for p in programs if p.startswith("nats")] == ["nats-1", "nats-2", "nats-3"]
    for node in nodes:
        section = config[f"program:{node.name}"]
        command = shlex.split(section["command"])
        assert command[command.index("--routes") + 1].count(",") == 1
        assert f'NSED_NATS_LISTEN="{node.listen}"' in section["environment"]
        assert f'NSED_NATS_STORE="{node.store}"' in section["environment"]
    everyone = ",".join(n.url for n in nodes)
    for program in programs:
        if not program.startswith("nats"):
            environment = config[f"program:{program}"]["environment"]
            assert f'NSED_NATS_URL="{everyone}"' in environment, program
            assert 'NSED_STREAM_REPLICAS="3"' in environment, program


def test_the_single_server_config_is_one_nats_program_on_the_given_url() -> None:
    paths = StackPaths(root=ROOT, home=HOME)
    config = _config(render(paths, load_pool(POOL), POOL, "nats://127.0.0.1:4322"))
    nats = config["program:nats"]
    assert "--cluster" not in nats["command"]
    assert nats["environment"] == f'NSED_NATS_LISTEN="127.0.0.1:4322",NSED_NATS_STORE="{HOME}/nats"'
    assert (
        'NSED_NATS_URL="nats://127.0.0.1:4322",NSED_STREAM_REPLICAS="1"'
        in (config["program:broker"]["environment"])
    )


def test_later_commands_told_one_node_find_every_node_of_the_running_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = cluster.plan(
        ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"],
        [6222, 6223, 6224],
        tmp_path,
    )
    cluster.save(tmp_path, nodes)
    monkeypatch.setenv("NSED_HOME", str(tmp_path))
    monkeypatch.setenv("NSED_NATS_URL", "nats://localhost:4223")
    monkeypatch.delenv("NSED_STREAM_REPLICAS", raising=False)
    everyone = "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
    assert client.nats_url() == everyone
    assert client.stack_environment() == {
        "NSED_NATS_URL": everyone,
        "NSED_STREAM_REPLICAS": "3",
    }
    monkeypatch.setenv("NSED_STREAM_REPLICAS", "1")  # set by hand: left as it is
    assert client.stack_environment() == {"NSED_NATS_URL": everyone}

    monkeypatch.setenv("NSED_NATS_URL", "nats://127.0.0.1:5222")  # another stack
    assert client.nats_url() == "nats://127.0.0.1:5222"
    assert client.stack_environment() == {}
    cluster.forget(tmp_path)
    monkeypatch.setenv("NSED_NATS_URL", "nats://127.0.0.1:4222")
    assert client.nats_url() == "nats://127.0.0.1:4222"
