"""infra/compose.yaml and infra/Dockerfile against the code they run.

No Docker engine runs where these tests do, so the container files cannot be exercised
here. What can drift silently is checked instead: the compose services against the sim
pool and the service modules, the files compose mounts and the Dockerfile copies, and the
package built from exactly what the Dockerfile copies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.stack.natsserver import BINARY

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
SERVICES = ("broker", "reviewer", "voter", "gate", "gateway")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR:-default}`` and ``${VAR}``, from ``env`` (an --env-file's values)."""
    return re.sub(
        r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or m.group(2) or "", value
    )


def _env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _nats_nodes() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    return {
        name: spec for name, spec in services.items() if spec.get("image", "").startswith("nats:")
    }


def _with_includes(path: Path) -> str:
    """A server config with the includes the checkout holds written in (not the
    authorization, which the `auth` service writes into its volume)."""
    lines = []
    for line in path.read_text().splitlines():
        included = re.fullmatch(r"include \./([\w.-]+)", line.strip())
        if included and (path.parent / included.group(1)).is_file():
            lines.append(_with_includes(path.parent / included.group(1)))
        else:
            lines.append(line)
    return "\n".join(lines)


def _copied_sources() -> list[str]:
    """The build-context paths of the Dockerfile's COPY lines (without the destination)."""
    sources: list[str] = []
    for line in (INFRA / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources.extend(line.split()[1:-1])
    return sources


def test_every_sim_agent_has_a_runner_service_and_nothing_else() -> None:
    pool = tomllib.loads((INFRA / "agents" / "sim.toml").read_text())
    agent_ids = {agent["id"] for agent in pool["agents"]}
    services = _compose()["services"]
    runners = {name: spec for name, spec in services.items() if name.startswith("agent-")}
    assert set(runners) == {f"agent-{agent_id}" for agent_id in agent_ids}
    for name, spec in runners.items():
        assert spec["command"] == [
            "python", "-m", "services.agent_runner",
            "infra/agents/sim.toml", "--agent", name.removeprefix("agent-"),
        ]  # fmt: skip


def test_every_service_runs_an_existing_module() -> None:
    services = _compose()["services"]
    for name in SERVICES:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]
    modules = {
        spec["command"][2]
        for spec in services.values()
        if spec.get("command", [])[:2] == ["python", "-m"]
    }
    assert modules == {f"services.{name}" for name in (*SERVICES, "agent_runner")}
    for module in modules:
        assert (ROOT / module.replace(".", "/") / "__main__.py").is_file(), module


def test_services_reach_nats_and_the_collector_by_their_compose_names() -> None:
    services = _compose()["services"]
    for name in (*SERVICES, "agent-qwen3-8b", "cli"):
        environment = services[name]["environment"]
        assert _interpolate(environment["NSED_NATS_URL"], {}) == "nats://nats:4222"
        assert _interpolate(environment["NSED_STREAM_REPLICAS"], {}) == "1"
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert {"nats", "jaeger"} <= set(services)


def test_mounted_and_copied_files_exist() -> None:
    for name, nats in _nats_nodes().items():
        for volume in nats["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).is_file(), source
                # A server config reads its listen address, store (and a cluster node its
                # name) from the environment.
                for variable in re.findall(r"\$(\w+)", (INFRA / source).read_text()):
                    assert variable in nats["environment"], (name, source, variable)
    for source in _copied_sources():
        assert (ROOT / source).exists(), source


def test_the_cluster_profile_runs_three_nodes_routed_to_each_other_and_used_by_all() -> None:
    nodes = _nats_nodes()
    cluster_env = _env_file(INFRA / "cluster.env")
    assert {name: spec.get("profiles") for name, spec in nodes.items()} == {
        "nats": None, "nats-2": ["cluster"], "nats-3": ["cluster"],
    }  # fmt: skip
    # With the cluster's env file, every node runs the cluster config, mounted where read.
    config = cluster_env["NSED_NATS_CONFIG"]
    for spec in nodes.values():
        command = [_interpolate(part, cluster_env) for part in spec["command"]]
        assert command[command.index("--config") + 1] == f"/etc/nsed/{config}"
        assert f"./nats/{config}:/etc/nsed/{config}:ro" in spec["volumes"]
    # Each its own name, store and host port; the routes name all three, at the cluster port.
    assert sorted(spec["environment"]["NSED_NATS_NAME"] for spec in nodes.values()) == sorted(nodes)
    stores = [v.split(":")[0] for spec in nodes.values() for v in spec["volumes"] if "/data" in v]
    assert len(set(stores)) == len(nodes)
    assert len({port for spec in nodes.values() for port in spec["ports"]}) == len(nodes)
    text = _with_includes(INFRA / "nats" / config)
    port = re.search(r"listen:\s*0\.0\.0\.0:(\d+)", text)
    assert port is not None
    routes = set(re.findall(r"nats-route://([\w-]+):(\d+)", text))
    assert routes == {(name, port.group(1)) for name in nodes}
    # Every service is given every node, and keeps a copy of each stream on each.
    services = _compose()["services"]
    for name in (*SERVICES, "agent-qwen3-8b", "cli"):
        environment = services[name]["environment"]
        urls = _interpolate(environment["NSED_NATS_URL"], cluster_env).split(",")
        assert sorted(urls) == sorted(f"nats://{node}:4222" for node in nodes)
        assert _interpolate(environment["NSED_STREAM_REPLICAS"], cluster_env) == str(len(nodes))


def test_the_cluster_config_is_one_nats_server_accepts(tmp_path: Path) -> None:
    environment = {**_nats_nodes()["nats-2"]["environment"], "NSED_NATS_STORE": str(tmp_path)}
    checked = subprocess.run(
        [str(BINARY), "-t", "-c", str(INFRA / "nats" / "nats-cluster.conf")],
        env=environment, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("config", ["nats-auth.conf", "nats-cluster-auth.conf"])
def test_the_servers_read_the_authorization_the_auth_service_writes(
    tmp_path: Path, config: str
) -> None:
    """What compose mounts: the configs beside the `auth` volume, as `nsed stack keys`
    fills it."""
    from services.stack import auth
    from services.stack.permissions import Agent

    etc = tmp_path / "etc"
    shutil.copytree(INFRA / "nats", etc)
    home = tmp_path / "home"
    auth.write(home, [Agent("qwen3-8b", simulated=True)])
    shutil.copytree(home / "auth", etc / "auth")
    node = _nats_nodes()["nats-2"]["environment"]
    checked = subprocess.run(
        [str(BINARY), "-t", "-c", str(etc / config)],
        env={**node, "NSED_NATS_STORE": str(tmp_path / "store")},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_auth_volume_holds_every_containers_key_and_nats_reads_it() -> None:
    services = _compose()["services"]
    home = re.search(r"ENV NSED_HOME=(\S+)", (INFRA / "Dockerfile").read_text())
    assert home is not None
    assert services["auth"]["command"] == [
        "nsed", "stack", "keys", "--pool", "infra/agents/sim.toml",
    ]  # fmt: skip
    nsed = [n for n, spec in services.items() if spec.get("image") == "nsed:local"]
    assert {*SERVICES, "agent-qwen3-8b", "cli", "auth"} <= set(nsed)
    for name in nsed:
        assert f"auth:{home.group(1)}/auth" in services[name]["volumes"], name
    for name, spec in _nats_nodes().items():
        assert "auth:/etc/nsed/auth:ro" in spec["volumes"], name
        assert spec["depends_on"]["auth"]["condition"] == "service_completed_successfully"
    default = _compose()["services"]["nats"]["command"]
    assert "/etc/nsed/${NSED_NATS_CONFIG:-nats-auth.conf}" in default


def test_host_ports_are_bound_to_loopback_only() -> None:
    for name, spec in _compose()["services"].items():
        for port in spec.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


@pytest.mark.timeout(300)
def test_the_package_builds_from_what_the_dockerfile_copies(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in _copied_sources():
        if source.startswith("infra"):
            continue  # pool files, read at run time from the working directory
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, context / source)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--wheel-dir", str(wheels), str(context)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    (wheel,) = wheels.glob("nsed-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (*SERVICES, "agent_runner", "cli"):
        assert f"services/{module}/__main__.py" in names or f"services/{module}/main.py" in names
    assert any(name.startswith("schemas/snapshots/") for name in names)
    assert any(name.startswith("services/bench/data/") for name in names)
    assert any(name.endswith("entry_points.txt") for name in names)
