"""``nsed stack up | down | status``: the local stack that ``make up`` / ``make down`` run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

from rich.console import Console

from services._runtime import credentials
from services._runtime.settings import load_settings
from services.agent_runner.config import load_pool
from services.cli import client, stack_status
from services.cli.client import CliError
from services.cli.submit import build_task, submit
from services.gateway.settings import GatewaySettings
from services.stack import auth, cluster, health, model_servers, preflight, runners
from services.stack.model_servers import ModelServer
from services.stack.natsserver import local_nodes
from services.stack.permissions import Agent
from services.stack.supervisor import (
    StackPaths,
    Supervisor,
    render,
    same_server,
    stack_gateway_url,
    stack_nats_url,
)

HEALTH_TIMEOUT_S = 90.0
MODEL_TIMEOUT_S = 180.0  # loading a GGUF from a cold disk on a small machine
SHUTDOWN_TIMEOUT_S = 60.0
RUNNER_STOP_S = 20.0  # a runner's grace period for work in flight, and its deregistration
DEMO_PROMPT = "What is 17*23?"
DEMO_ANSWER = "391"


def project_root() -> Path:
    return client.project_root()


def paths() -> StackPaths:
    return StackPaths(root=project_root(), home=client.stack_home())


def up(pool_path: str, demo: bool, cluster_size: int = 1) -> int:
    """Start the stack (``cluster_size`` NATS nodes) unless one runs; wait until healthy."""
    console = client.console(stderr=True)  # lines are never cut off a terminal
    stack = paths()
    pool_file = Path(pool_path)
    if not pool_file.is_absolute():
        pool_file = (Path.cwd() / pool_file).resolve()
    pool = load_pool(pool_file)
    supervisor = Supervisor(stack)
    running = supervisor.pid()
    if running is not None:
        listening = stack_nats_url(stack)
        if listening is not None and not same_server(listening, client.nats_url()):
            # Waiting on an address nothing listens at would only time out.
            print(
                f"nsed: the stack in {stack.home} is running and listens on {listening}, "
                f"not on NSED_NATS_URL={client.nats_url()}: set NSED_NATS_URL={listening}, "
                "or `make down` first to start it anew",
                file=sys.stderr,
            )
            return 2
        console.print(f"NSED is already running (supervisord pid {running}); not starting another.")
    else:
        errors = preflight.settings_errors() + preflight.key_errors(pool)
        try:
            # The setting as given: a record left by a stack that was not stopped must not
            # widen it to nodes of the last cluster.
            nodes = local_nodes(client.given_nats_url(), cluster_size, stack.home)
        except ValueError as exc:
            errors.append(f"nsed: {exc}")
            nodes = []
        errors += [taken for node in nodes if (taken := preflight.address_taken(node.url))]
        if (taken := preflight.gateway_taken()) is not None:
            errors.append(taken)
        if errors:
            # Plain lines, never wrapped, exactly as each service would print them.
            print("\n".join(errors), file=sys.stderr)
            return 2
        stack.home.mkdir(parents=True, exist_ok=True)
        # Keys are made once and kept; the permissions follow this pool.
        auth.write(stack.home, [Agent(a.id, simulated=a.backend == "sim") for a in pool.agents])
        auth.server_config(stack.nats_config, stack.nats_settings)
        ports = [node.port for node in nodes] + [node.cluster_port for node in nodes]
        servers = model_servers.prepare(
            pool, pool_file.parent, stack.home / "models", console.print, avoid=ports
        )
        gateway = load_settings(GatewaySettings, "gateway")  # valid: preflight read it
        config = render(
            stack, pool, pool_file, client.given_nats_url(), servers, nodes,
            (gateway.host, gateway.port),
        )  # fmt: skip
        stack.config.write_text(config)
        model_servers.save(stack.home, servers)
        cluster.save(stack.home, nodes)
        supervisor.start()
        console.print(f"started supervisord (pid {supervisor.pid()}) with {stack.config}")
        if len(nodes) > 1:
            console.print(
                f"NATS cluster of {len(nodes)} nodes: {', '.join(n.url for n in nodes)}; "
                f"streams and buckets keep {cluster.replicas(nodes)} replicas",
                markup=False,
            )
        if servers and not start_local_agents(console, supervisor, servers, stack):
            return 1
    started = time.monotonic()
    url = stack_nats_url(stack) or client.nats_url()  # every node the processes were given
    with console.status("starting…") as status:
        missing = asyncio.run(
            health.wait_healthy(
                url,
                [a.id for a in pool.agents],
                HEALTH_TIMEOUT_S,
                on_progress=lambda text: status.update(text),
                on_wait=lambda: console.print(f"waiting for NATS at {url}", markup=False),
                services=health.STACK_SERVICES,
                identity=credentials.for_principal(credentials.ADMIN, stack.home),
            )
        )
    if missing:
        console.print(f"[red]not healthy after {HEALTH_TIMEOUT_S:.0f}s:[/] {', '.join(missing)}")
        console.print(f"logs: {stack.logs}/  ·  stop: make down")
        return 1
    console.print(f"healthy in {time.monotonic() - started:.1f}s")
    print_status(stack)
    stack_status.warn_strangers(console, stack, {a.id for a in pool.agents}, str(pool_path))
    code = 0
    if demo and running is None:
        console.print(f"\ndemo deliberation: {DEMO_PROMPT!r} (reference answer {DEMO_ANSWER})")
        task = build_task(
            DEMO_PROMPT,
            answer=DEMO_ANSWER,
            domain="math",
            answer_format=None,
            policy={},  # the deadline follows from the team's measured latency
        )
        code = asyncio.run(submit(task, wait=True, as_json=False, show_progress=True))
    gateway_url = stack_gateway_url(stack) or "the gateway"
    console.print(
        "\n"
        f"logs     {stack.logs}/ (one file per process, JSON lines)\n"
        "status   make status\n"
        'ask      .venv/bin/nsed submit "your question" [--answer A] [--json]\n'
        f"openai   {gateway_url}/v1 (model nsed; OpenAI's chat completions, streamed or not)\n"
        f"view     {gateway_url}/ (every deliberation, live)\n"
        "watch    .venv/bin/nsed watch TASK_ID   ·   nats sub 'nsed.events.TASK_ID.>'\n"
        "traces   .venv/bin/nsed trace TASK_ID   ·   Jaeger: make jaeger (see README)\n"
        "stop     make down",
        markup=False,
    )
    # A degraded demo (the council did not agree, say) still shows a working stack.
    return 0 if code in (0, 3) else 1


def start_local_agents(
    console: Console, supervisor: Supervisor, servers: list[ModelServer], stack: StackPaths
) -> bool:
    """Wait for every model server to answer, then start the agents it serves."""
    started = time.monotonic()
    with console.status("loading the model server(s)…") as status:
        missing = asyncio.run(
            model_servers.wait_answering(
                {s.spec.program: s.base_url for s in servers},
                MODEL_TIMEOUT_S,
                on_progress=lambda text: status.update(text),
            )
        )
    if missing:
        console.print(
            f"[red]model server(s) not answering after {MODEL_TIMEOUT_S:.0f}s:[/] "
            + ", ".join(missing),
            highlight=False,
        )
        console.print(f"logs: {stack.logs}/model-*.log  ·  stop: make down", markup=False)
        return False
    for server in servers:
        agents = server.spec.agents
        console.print(
            f"model server {server.spec.name} answering at {server.base_url} in "
            f"{time.monotonic() - started:.1f}s; serves {', '.join(agents)}"
            + (
                " with one request at a time (their calls queue behind each other)"
                if len(agents) > 1
                else ""
            ),
            markup=False,
        )
        for agent in agents:
            supervisor.start_program(f"agent-{agent}")
    return True


def enrol_agent(pool_path: str, agent_id: str | None) -> None:
    """A runner started by hand for the stack here: its agent gets a key and a grant first
    (nothing to do for an agent the stack knows, or when the runner joins no stack here).
    A bad pool or agent id is left for the runner to report."""
    if not client.stack_environment():
        return
    try:
        profile = load_pool(pool_path).agent(agent_id)
    except Exception:
        return
    agent = Agent(profile.id, simulated=profile.backend == "sim")
    runners.enrol(paths(), agent, client.nats_url())


def keys(pool_path: str) -> int:
    """The keys and authorization ``up`` writes, alone (for infra/compose.yaml)."""
    pool = load_pool(pool_path)
    written = auth.write(
        client.stack_home(), [Agent(a.id, simulated=a.backend == "sim") for a in pool.agents]
    )
    print(written)
    return 0


def extras(pool_path: str) -> int:
    """Print the optional extras the pool needs (what `make up` installs first)."""
    for extra in model_servers.extras_needed(load_pool(pool_path)):
        print(extra)
    return 0


def down() -> int:
    """Stop the runners started by hand that joined the stack (first, while NATS is up:
    they drain and deregister), then supervisord and everything it runs."""
    console = client.console(stderr=True)  # lines are never cut off a terminal
    stack = paths()
    supervisor = Supervisor(stack)
    running = supervisor.pid() is not None
    url = stack_status.stack_url(stack)
    others = []
    if running:
        with contextlib.suppress(CliError):  # NATS already gone: nothing to name
            others = runners.elsewhere(asyncio.run(stack_status.look(url, False)).cards, stack.home)
    # Without a stack, any runner registered here waits to rejoin one: stop it too.
    hand = runners.terminate(runners.by_hand(stack.home, url if running else None))
    hand_killed = runners.wait_or_kill(hand, RUNNER_STOP_S)
    if hand:
        console.print(
            f"stopped {len(hand)} runner(s) started by hand: "
            + ", ".join(runners.name(r) for r in hand),
            markup=False,
        )
    if hand_killed:
        console.print(
            f"killed {', '.join(runners.name(r) for r in hand_killed)}: still running "
            f"{RUNNER_STOP_S:.0f}s after SIGTERM",
            markup=False,
        )
    for card in others:
        console.print(
            f"still running, not started with this NSED_HOME: {runners.name_card(card)}; "
            "stop it where it runs, or it joins the next stack on this NATS URL",
            markup=False,
        )
    if not running:
        cluster.forget(stack.home)
        if not hand:
            console.print("NSED is not running.")
        return 0
    killed = supervisor.shutdown(SHUTDOWN_TIMEOUT_S)
    cluster.forget(stack.home)
    if killed:
        console.print(
            f"stopped; killed {', '.join(killed)}: still running "
            f"{SHUTDOWN_TIMEOUT_S:.0f}s after the stop",
            markup=False,
        )
    else:
        console.print("stopped: every process of the stack has exited.")
    return 0


def print_status(stack: StackPaths | None = None) -> int:
    return stack_status.print_status(stack or paths())
