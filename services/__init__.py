"""NSED services: broker, agent_runner, reviewer, voter, gate, and the ``nsed`` CLI."""
