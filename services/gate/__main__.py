"""``python -m services.gate``: one gate replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services._runtime.settings import load_settings
from services.gate.service import serve_gate
from services.gate.settings import GateSettings


def main() -> None:
    run_main("gate", load_settings(GateSettings, "gate"), serve_gate)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
