"""``python -m services.voter``: one voter replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services.voter.service import serve_voter
from services.voter.settings import VoterSettings


def main() -> None:
    run_main("voter", VoterSettings, serve_voter)


if __name__ == "__main__":
    main()
