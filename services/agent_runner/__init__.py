"""The agent runner: one agent profile per process, any number of replicas per profile.

Consumes ``nsed.work.<agent_id>.>`` through the agent's shared durable consumer and emits
``ProposalSubmitted`` / ``ReviewSubmitted`` events; announces itself in ``nsed_agents``.
"""
