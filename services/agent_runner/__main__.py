"""``python -m services.agent_runner CONFIG [--agent ID]`` (same as ``nsed agent run``)."""

from __future__ import annotations

import argparse
from functools import partial

from services._runtime.lifecycle import run_main
from services.agent_runner.service import serve_agent
from services.agent_runner.settings import AgentRunnerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.agent_runner")
    parser.add_argument("config", help="agent pool TOML file")
    parser.add_argument("--agent", default=None, help="agent id in the pool")
    args = parser.parse_args(argv)
    run(args.config, args.agent)


def run(config: str, agent: str | None) -> None:
    # The pool file is read inside serve_agent, so a bad pool or agent id is reported by
    # run_main's guard too: one line, exit 2, like a bad setting.
    run_main(
        "agent_runner",
        AgentRunnerSettings,
        partial(serve_agent, pool_path=config, agent_id=agent, standalone=True),
    )


if __name__ == "__main__":
    main()
