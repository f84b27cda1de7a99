"""``python -m services.gateway``: one gateway replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services.gateway.service import serve_gateway
from services.gateway.settings import GatewaySettings


def main() -> None:
    run_main("gateway", GatewaySettings, serve_gateway)


if __name__ == "__main__":
    main()
