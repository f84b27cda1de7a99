"""``python -m services.reviewer``: one reviewer replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services.reviewer.service import serve_reviewer
from services.reviewer.settings import ReviewerSettings


def main() -> None:
    run_main("reviewer", ReviewerSettings, serve_reviewer)


if __name__ == "__main__":
    main()
