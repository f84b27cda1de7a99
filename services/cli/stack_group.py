"""``nsed stack``: the local stack (what ``make up``, ``make down`` and ``make status``
run), and its principals' keys (``nsed stack keys``)."""

from __future__ import annotations

import sys

import click


@click.group()
def stack() -> None:
    """The local stack (what `make up`, `make down` and `make status` run)."""


@stack.command("up")
@click.option("--pool", default="infra/agents/sim.toml", show_default=True)
@click.option("--demo/--no-demo", default=True, show_default=True)
@click.option(
    "--cluster",
    "cluster_size",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="NATS nodes: 3 runs a local cluster (streams with 3 replicas).",
)
def stack_up(pool: str, demo: bool, cluster_size: str) -> None:
    """Start NATS, the services and the pool under supervisord; wait until healthy."""
    from services.cli import stack as stack_cmd

    sys.exit(stack_cmd.up(pool, demo, int(cluster_size)))


@stack.command("extras")
@click.option("--pool", default="infra/agents/sim.toml", show_default=True)
def stack_extras(pool: str) -> None:
    """Print the optional extras POOL needs installed (`local` for local models)."""
    from services.cli import stack as stack_cmd

    sys.exit(stack_cmd.extras(pool))


@stack.command("keys")
@click.option("--pool", default="infra/agents/sim.toml", show_default=True)
def stack_keys(pool: str) -> None:
    """Write the principals' keys and the server's authorization for POOL into
    $NSED_HOME/auth (what `stack up` does first; infra/compose.yaml runs it alone)."""
    from services.cli import stack as stack_cmd

    sys.exit(stack_cmd.keys(pool))


@stack.command("down")
def stack_down() -> None:
    """Stop everything `stack up` started."""
    from services.cli import stack as stack_cmd

    sys.exit(stack_cmd.down())


@stack.command("status")
def stack_status() -> None:
    """Show the processes, the services answering discovery and the live agents."""
    from services.cli import stack as stack_cmd

    sys.exit(stack_cmd.print_status())
