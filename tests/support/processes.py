"""The NSED stack as real processes (e2e tier): the project's own ``ProcessStack``."""

from __future__ import annotations

from services.stack.processes import ROOT, SERVICES, ProcessStack

__all__ = ["ROOT", "SERVICES", "ProcessStack"]
