"""Before ``nsed stack up`` starts anything: every service's settings, read from this
environment exactly as each process will read them at startup.

supervisord sends a process's stderr to its log file and restarts it, so a service that
exits 2 on a bad setting would show as "not healthy" only after the health wait runs out.
Checked here, the same one line per service (``nsed <service>: invalid ... settings: ...``)
reaches the terminal at once, and nothing is started. So is the NATS address: a stack whose
own nats-server cannot bind it (another stack's NATS holds it, say) would report healthy
while its services joined the other server. And so is each agent's key variable: a runner
without its key exits at once, but into its log, and the health wait would run out.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from services._runtime.errors import ConfigError
from services._runtime.lifecycle import config_error_line
from services._runtime.settings import ServiceSettings, load_settings
from services.agent_runner.backends.openai import api_key
from services.agent_runner.config import PoolConfig
from services.agent_runner.settings import AgentRunnerSettings
from services.broker.settings import BrokerSettings
from services.gate.settings import GateSettings
from services.gateway.settings import GatewaySettings
from services.reviewer.settings import ReviewerSettings
from services.stack.supervisor import nats_listen
from services.voter.settings import VoterSettings

SETTINGS: dict[str, type[ServiceSettings]] = {
    "broker": BrokerSettings,
    "agent_runner": AgentRunnerSettings,
    "reviewer": ReviewerSettings,
    "voter": VoterSettings,
    "gate": GateSettings,
    "gateway": GatewaySettings,
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


PROBE_TIMEOUT_S = 1.0


def address_taken(url: str) -> str | None:
    """Why the stack's nats-server could not listen at ``url``'s host and port, as one
    ``nsed:`` line; None when it can."""
    host, port = nats_listen(url).rsplit(":", 1)
    error = _bind_error(host, int(port))
    if error is None:
        return None
    advice = "set NSED_NATS_URL to a free port (nats://127.0.0.1:PORT) and run it again"
    if error.errno not in (errno.EADDRINUSE, errno.EACCES):  # else: no such local address
        return f"nsed: cannot listen on {host}:{port} ({error.strerror}): {advice}"
    holder = "a process"
    if _speaks_nats(host, int(port)):
        holder = "another NATS server (another stack's?)"
    return f"nsed: {host}:{port} is taken: {holder} listens there; {advice}"


def gateway_taken(env: Mapping[str, str] | None = None) -> str | None:
    """Why the gateway could not listen where its settings say, as one ``nsed:`` line;
    None when it can (or when its settings are invalid: ``settings_errors`` says so)."""
    try:
        settings = load_settings(GatewaySettings, "gateway", env)
    except ConfigError:
        return None
    if settings.port == 0:
        return None
    error = _bind_error(settings.host, settings.port)
    if error is None:
        return None
    where = f"{settings.host}:{settings.port}"
    reason = "a process listens there" if error.errno == errno.EADDRINUSE else error.strerror
    advice = "set NSED_GATEWAY_PORT to a free port and run it again"
    return f"nsed: the gateway cannot listen on {where} ({reason}): {advice}"


def _bind_error(host: str, port: int) -> OSError | None:
    with socket.socket() as sock:
        # As nats-server and aiohttp bind (SO_REUSEADDR): closed connections lingering in
        # TIME_WAIT after a `make down` do not count, a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def _speaks_nats(host: str, port: int) -> bool:
    """A NATS server greets every connection with an ``INFO {...}`` line."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S) as conn:
            return conn.recv(5) == b"INFO "
    except OSError:
        return False


def key_errors(pool: PoolConfig) -> list[str]:
    """One ``nsed:`` line per agent whose ``api_key_env`` variable is unset, as its runner
    would say it."""
    errors = []
    for agent in pool.agents:
        if agent.openai is None:
            continue
        try:
            api_key(agent.openai, agent.id)
        except ConfigError as exc:
            errors.append(f"nsed: {exc}")
    return errors
