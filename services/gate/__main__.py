"""``python -m services.gate``: one gate replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services.gate.service import serve_gate
from services.gate.settings import GateSettings


def main() -> None:
    run_main("gate", GateSettings, serve_gate)


if __name__ == "__main__":
    main()
