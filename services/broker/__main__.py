"""``python -m services.broker``: one broker replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services.broker.service import serve_broker
from services.broker.settings import BrokerSettings


def main() -> None:
    run_main("broker", BrokerSettings, serve_broker)


if __name__ == "__main__":
    main()
