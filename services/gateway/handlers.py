"""The gateway's handlers: the models a client may name, and a chat turned into a task.

Placeholder for the skeleton: ``Council`` grows the chat completion next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.gateway.conversation import MODELS
from services.gateway.feed import Feed


@dataclass
class Council:
    feed: Feed

    def models(self) -> dict[str, Any]:
        """OpenAI's model list: one per protocol, each with the live pool behind it."""
        pool = [
            {"id": a.agent_id, "model": a.card.model, "family": a.card.family}
            for a in self.feed.live_agents()
        ]
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "nsed",
                    "nsed": {"protocol": protocol, "agents": pool},
                }
                for name, protocol in MODELS.items()
            ],
        }
