"""Agent backends: one small protocol (``propose``, ``review``), one module per kind."""
