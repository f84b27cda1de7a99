"""The NATS nodes of the local stack: one server, or a cluster of three on loopback.

Consumes ``NSED_NATS_URL`` and the cluster size ``nsed stack up --cluster`` was given.
Emits one ``Node`` per server (its client URL, its route URL, its store under
``NSED_HOME``), the ``nats-server`` flags that join a node to the others (every node routes
to every other, so no node is a seed the rest depend on), and the record
``NSED_HOME/nats.json`` that later commands read to find every node of the running stack.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services._runtime import natsurls

CLUSTER_NAME = "nsed"
SIZES = (1, 3)  # JetStream keeps a quorum with one node down from three on
RECORD = "nats.json"


@dataclass(frozen=True)
class Node:
    name: str  # the supervisord program and the server's name
    host: str
    port: int
    cluster_port: int  # 0 for a server on its own
    store: Path

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def route(self) -> str:
        return f"nats://{self.host}:{self.cluster_port}"

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Recorded:
    """What ``nsed stack up`` recorded about the NATS of the stack it started."""

    urls: list[str]
    replicas: int


def node_urls(setting: str, size: int) -> list[str]:
    """The client URL of each node: the setting's URLs if it names ``size`` of them, else
    its one URL and the ports after it (4222, 4223, 4224)."""
    urls = natsurls.split(setting)
    if len(urls) == size:
        return urls
    if len(urls) == 1:
        host, port = natsurls.listener(urls[0])
        return [f"nats://{host}:{port + i}" for i in range(size)]
    raise ValueError(
        f"NSED_NATS_URL names {len(urls)} servers; a stack of {size} node(s) takes "
        f"{size} URLs, or one (the other nodes then listen on the next ports)"
    )


def plan(urls: Sequence[str], cluster_ports: Sequence[int], home: Path) -> list[Node]:
    """One node per URL, the cluster port of the same index, and a store of its own."""
    if len(urls) == 1:
        host, port = natsurls.listener(urls[0])
        return [Node("nats", host, port, 0, home / "nats")]
    if len(cluster_ports) != len(urls):
        raise ValueError(f"{len(urls)} nodes need {len(urls)} cluster ports")
    nodes = []
    for index, (url, cluster_port) in enumerate(zip(urls, cluster_ports, strict=True), 1):
        host, port = natsurls.listener(url)
        nodes.append(Node(f"nats-{index}", host, port, cluster_port, home / f"nats-{index}"))
    return nodes


def routes(node: Node, nodes: Sequence[Node]) -> list[str]:
    return [other.route for other in nodes if other.name != node.name]


def server_args(node: Node, nodes: Sequence[Node]) -> list[str]:
    """Flags over the shared config file (they take precedence over it): a unique server
    name, which JetStream needs in a cluster, the cluster and its explicit routes."""
    if len(nodes) == 1:
        return []
    return [
        "--name", node.name, "--cluster_name", CLUSTER_NAME,
        "--cluster", node.route, "--routes", ",".join(routes(node, nodes)),
    ]  # fmt: skip


def replicas(nodes: Sequence[Node]) -> int:
    """Stream and bucket replicas: one per node, up to three."""
    return min(len(nodes), 3)


def save(home: Path, nodes: Sequence[Node]) -> None:
    record = {
        "replicas": replicas(nodes),
        "nodes": [{"name": n.name, "url": n.url, "store": str(n.store)} for n in nodes],
    }
    (home / RECORD).write_text(json.dumps(record, indent=2))


def load(home: Path) -> Recorded | None:
    try:
        record = json.loads((home / RECORD).read_text())
        urls = [str(node["url"]) for node in record["nodes"]]
        return Recorded(urls=urls, replicas=int(record["replicas"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(home: Path) -> None:
    (home / RECORD).unlink(missing_ok=True)
