"""The ``nsed`` command: every subcommand of the README's "Command line", plus ``stack``
for the Makefile."""

from __future__ import annotations

import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from services._runtime.errors import ConfigError
from services._runtime.logging import configure_logging
from services.cli import client
from services.cli.bench import bench
from services.cli.client import run_async
from services.cli.eval import eval_command
from services.cli.stack_group import stack

T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """NSED: several models deliberate on one question and answer it together."""
    # Services run in-process by benchmarks log through this; the CLI itself says little.
    configure_logging("cli", os.environ.get("NSED_LOG_LEVEL", "warning"))


@cli.command()
@click.argument("prompt", required=False)
@click.option(
    "--file",
    "prompt_file",
    default=None,
    help="Read the prompt from this file (PROMPT '-' reads it from stdin).",
)
@click.option(
    "--answer", default=None, help="Reference answer (evaluation only; no agent sees it)."
)
@click.option(
    "--domain",
    default=None,
    help="The task's domain: the agents' priors for it [default: general].",
)
@click.option(
    "--format",
    "answer_format",
    type=click.Choice(["text", "integer", "choice", "code"]),
    default=None,
    help="Answer format [default: integer if --answer is an integer, else text].",
)
@click.option("--team-size", type=int, default=None)
@click.option(
    "--max-per-family",
    type=int,
    default=None,
    help="At most N agents of one model family on the team [default: 1].",
)
@click.option(
    "--allow-repeat-seats",
    is_flag=True,
    help="An agent may hold several seats, each its own sample.",
)
@click.option("--max-rounds", type=int, default=None)
@click.option("--min-rounds", type=int, default=None)
@click.option("--protocol", type=click.Choice(["nsed", "vote", "moa", "debate"]), default="nsed")
@click.option("--budget", type=float, default=None, help="Budget in USD.")
@click.option("--deadline", type=float, default=None, help="Deadline in seconds.")
@click.option("--task-id", default=None, help="Use this task id instead of a new one.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly the result JSON on stdout.")
@click.option(
    "--no-wait", is_flag=True, help="Publish, print the task id (with --json: as JSON), exit."
)
def submit(
    prompt: str | None,
    prompt_file: str | None,
    answer: str | None,
    domain: str | None,
    answer_format: str | None,
    team_size: int | None,
    max_per_family: int | None,
    allow_repeat_seats: bool,
    max_rounds: int | None,
    min_rounds: int | None,
    protocol: str,
    budget: float | None,
    deadline: float | None,
    task_id: str | None,
    as_json: bool,
    no_wait: bool,
) -> None:
    """Ask the council PROMPT; show progress per round; print the answer.

    PROMPT '-' reads the prompt from stdin; --file reads it from a file (for a prompt
    longer than a command line may be). Exit codes: 0 completed, 3 degraded, 1 failed,
    5 cancelled, 2 usage or connection error, 130 interrupted (the task goes on).
    """
    from services.cli.checks import Asked, refusal
    from services.cli.submit import build_task, read_prompt
    from services.cli.submit import submit as run_submit

    policy = {
        "team_size": team_size,
        "min_team": min(2, team_size) if team_size is not None else None,
        "max_per_family": max_per_family,
        "allow_repeat_seats": allow_repeat_seats or None,
        "max_rounds": max_rounds,
        "min_rounds": min_rounds,
        "protocol": protocol,
        "budget_usd": budget,
        "deadline_s": deadline,
    }
    task = build_task(
        read_prompt(prompt, prompt_file),
        answer=answer,
        domain=domain or "general",
        answer_format=answer_format,
        policy=policy,
        task_id=task_id,
    )
    reason = refusal(task)
    if reason is not None:
        raise client.CliError(reason)
    asked = Asked(team_size=team_size is not None, domain=domain is not None)
    try:
        code = _run(
            run_submit(task, wait=not no_wait, as_json=as_json, show_progress=True, asked=asked)
        )
    except KeyboardInterrupt:
        print(
            f"\nnsed: interrupted; task {task.task_id} goes on: `nsed watch {task.task_id}` "
            f"follows it, `nsed cancel {task.task_id}` stops it",
            file=sys.stderr,
        )
        code = 130
    sys.exit(code)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def agents(as_json: bool) -> None:
    """List the live agent pool, and the agents whose backends fail (not seated)."""
    from services.cli import inspect

    pool = _run(inspect.agent_pool())
    inspect.print_agents(
        pool.live(), as_json, unhealthy=pool.unhealthy(), failing=pool.failing_instances()
    )


@cli.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True)
def result(task_id: str, as_json: bool) -> None:
    """Print a task's result (exit 4 while it has none yet)."""
    from services.cli import inspect

    sys.exit(_run(inspect.result(task_id, as_json)))


@cli.command()
@click.argument("task_id")
@click.option("--reason", default="", help="Why, for the result's detail.")
@click.option("--json", "as_json", is_flag=True, help="Print the task's result JSON.")
def cancel(task_id: str, reason: str, as_json: bool) -> None:
    """Stop a running task: it ends `cancelled`, with what it had and what it cost."""
    from services.cli.cancel import cancel as run_cancel

    sys.exit(_run(run_cancel(task_id, reason, as_json)))


@cli.command()
@click.argument("task_id")
@click.option("--timeout", type=float, default=900.0, show_default=True)
def watch(task_id: str, timeout: float) -> None:
    """Follow a task's events from its start to its result."""
    from services.cli import inspect

    sys.exit(_run(inspect.watch(task_id, timeout)))


@cli.command()
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print the nested span tree as JSON.")
def trace(task_id: str, as_json: bool) -> None:
    """Show a task's trace as a tree, from the span files under $NSED_HOME/traces.

    Needs neither NATS nor a collector. Exit codes: 0 printed, 2 no span of the task.
    """
    from services.cli.trace import print_trace

    sys.exit(print_trace(task_id, client.nsed_home(), as_json))


@cli.group()
def agent() -> None:
    """Agent runners."""


@agent.command("run")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--agent", "agent_id", default=None, help="Agent id in the pool file.")
def agent_run(config: str, agent_id: str | None) -> None:
    """Run one agent-runner process for one profile of the pool CONFIG."""
    from services.agent_runner.__main__ import run
    from services.cli.stack import enrol_agent

    os.environ.update(client.stack_environment())  # every node of a local cluster
    enrol_agent(config, agent_id)
    run(config, agent_id)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return run_async(coro)


cli.add_command(bench)
cli.add_command(eval_command)
cli.add_command(stack)


def main() -> None:
    try:
        # Not standalone: click's own usage errors are three lines, not the one `nsed:` line
        # every error is (README); the name is `nsed` however the module is started.
        code = cli.main(prog_name="nsed", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # `nsed` alone: the help, as before
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "nsed"
        print(f"nsed: {exc.format_message()} (`{where} --help` for help)", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.exit(130)
    except ConfigError as exc:
        print(f"nsed: {exc}", file=sys.stderr)
        sys.exit(client.EXIT_USAGE)
    except Exception as exc:
        if os.environ.get("NSED_DEBUG"):
            raise
        print(
            f"nsed: unexpected {type(exc).__name__}: {exc} (NSED_DEBUG=1 for details)",
            file=sys.stderr,
        )
        sys.exit(client.EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
