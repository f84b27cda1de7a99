"""``python -m services.broker``: one broker replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services._runtime.settings import load_settings
from services.broker.service import serve_broker
from services.broker.settings import BrokerSettings


def main() -> None:
    run_main("broker", load_settings(BrokerSettings, "broker"), serve_broker)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
