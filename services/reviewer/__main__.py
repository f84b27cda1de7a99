"""``python -m services.reviewer``: one reviewer replica."""

from __future__ import annotations

from services._runtime.lifecycle import run_main
from services._runtime.settings import load_settings
from services.reviewer.service import serve_reviewer
from services.reviewer.settings import ReviewerSettings


def main() -> None:
    run_main("reviewer", load_settings(ReviewerSettings, "reviewer"), serve_reviewer)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
