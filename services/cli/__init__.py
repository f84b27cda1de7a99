"""The ``nsed`` command line: submit, watch, result, agents, agent run, stack."""
