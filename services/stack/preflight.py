"""Before ``nsed stack up`` starts anything: every service's settings, read from this
environment exactly as each process will read them at startup.

supervisord sends a process's stderr to its log file and restarts it, so a service that
exits 2 on a bad setting would show as "not healthy" only after the health wait runs out.
Checked here, the same one line per service (``nsed <service>: invalid ... settings: ...``)
reaches the terminal at once, and nothing is started.
"""

from __future__ import annotations

from collections.abc import Mapping

from services._runtime.errors import ConfigError
from services._runtime.lifecycle import config_error_line
from services._runtime.settings import ServiceSettings, load_settings
from services.agent_runner.settings import AgentRunnerSettings
from services.broker.settings import BrokerSettings
from services.gate.settings import GateSettings
from services.reviewer.settings import ReviewerSettings
from services.voter.settings import VoterSettings

SETTINGS: dict[str, type[ServiceSettings]] = {
    "broker": BrokerSettings,
    "agent_runner": AgentRunnerSettings,
    "reviewer": ReviewerSettings,
    "voter": VoterSettings,
    "gate": GateSettings,
}


def settings_errors(env: Mapping[str, str] | None = None) -> list[str]:
    """One line per service whose settings are invalid; empty when all are valid."""
    errors = []
    for service, settings_type in SETTINGS.items():
        try:
            load_settings(settings_type, service, env)
        except ConfigError as exc:
            errors.append(config_error_line(service, exc))
    return errors
