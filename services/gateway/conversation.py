"""A chat request as a task (pure): the models a client may name, and the conversation
rendered into the task's ``system`` and ``prompt``."""

from __future__ import annotations

from typing import get_args

from schemas.task import ProtocolName

DEFAULT_MODEL = "nsed"
# ``nsed`` is the default policy (the nsed protocol); ``nsed-<protocol>`` each other one.
MODELS: dict[str, str] = {
    (DEFAULT_MODEL if name == "nsed" else f"{DEFAULT_MODEL}-{name}"): name
    for name in get_args(ProtocolName)
}
