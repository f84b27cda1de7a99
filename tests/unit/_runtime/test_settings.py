"""Settings are checked when a service starts: a value out of range, NaN or ∞ from the
environment is one line on stderr naming the variable, and exit code 2, before anything
connects; ``nsed stack up`` checks the same before it starts anything."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services._runtime.errors import ConfigError
from services._runtime.settings import ServiceSettings, load_settings
from services.agent_runner.settings import AgentRunnerSettings
from services.broker.settings import BrokerSettings
from services.gate.settings import GateSettings
from services.stack import health, preflight
from services.stack.natsserver import free_port

ROOT = Path(__file__).resolve().parents[3]
POOL = ROOT / "tests" / "data" / "pool.toml"


def gate(**env: str) -> GateSettings:
    return load_settings(GateSettings, "gate", env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NSED_GATE_FATIGUE_BETA", "-inf"),
        ("NSED_GATE_FATIGUE_BETA", "nan"),
        ("NSED_GATE_FATIGUE_BETA", "inf"),
        ("NSED_GATE_FATIGUE_BETA", "1e999"),
        ("NSED_GATE_FATIGUE_LAMBDA", "0"),
        ("NSED_GATE_FATIGUE_LAMBDA", "-2"),
        ("NSED_GATE_FATIGUE_LAMBDA", "NaN"),
        ("NSED_GATE_FATIGUE_LAMBDA", "Infinity"),
        ("NSED_GATE_RETENTION_FLOOR", "1"),
        ("NSED_GATE_RETENTION_FLOOR", "-0.1"),
        ("NSED_GATE_RETENTION_FLOOR", "nan"),
    ],
)
def test_an_invalid_gate_setting_is_a_config_error_naming_its_variable(
    variable: str, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        gate(**{variable: value})
    line = str(caught.value)
    assert line.startswith(f"invalid gate settings: {variable}={value!r}: ")
    assert "\n" not in line


def test_nan_and_infinity_are_named_as_such() -> None:
    for value in ("nan", "inf", "-inf", "1e999"):
        with pytest.raises(ConfigError, match=r"not a finite number$"):
            gate(NSED_GATE_FATIGUE_BETA=value)


def test_beta_zero_and_the_edges_of_the_ranges_are_valid() -> None:
    loaded = gate(
        NSED_GATE_FATIGUE_BETA="0", NSED_GATE_FATIGUE_LAMBDA="1e-9", NSED_GATE_RETENTION_FLOOR="0"
    )
    assert (loaded.fatigue_beta, loaded.fatigue_lambda, loaded.retention_floor) == (0.0, 1e-9, 0.0)


@pytest.mark.parametrize("value", ["-1", "-4.962e-15", "-1.7976931348623157e308"])
def test_a_negative_beta_is_valid_since_a_fit_may_print_one(value: str) -> None:
    assert gate(NSED_GATE_FATIGUE_BETA=value).fatigue_beta == float(value)


@pytest.mark.parametrize(
    ("settings_type", "service", "variable", "value"),
    [
        (GateSettings, "gate", "NSED_CONCURRENCY", "0"),
        (GateSettings, "gate", "NSED_ACK_WAIT_S", "0"),
        (GateSettings, "gate", "NSED_MAX_DELIVER", "-1"),
        (GateSettings, "gate", "NSED_SHUTDOWN_GRACE_S", "-1"),
        (GateSettings, "gate", "NSED_CONNECT_TIMEOUT_S", "inf"),
        (GateSettings, "gate", "NSED_STARTUP_TIMEOUT_S", "nan"),
        (BrokerSettings, "broker", "NSED_BROKER_SOLVER_TIME_LIMIT_S", "0"),
        (BrokerSettings, "broker", "NSED_BROKER_PRIOR_STRENGTH", "0"),
        (BrokerSettings, "broker", "NSED_BROKER_EXPECTED_ROUNDS", "0"),
        (BrokerSettings, "broker", "NSED_BROKER_BUSY_PENALTY", "-0.5"),
        (BrokerSettings, "broker", "NSED_BROKER_STALE_AFTER_S", "inf"),
        (AgentRunnerSettings, "agent_runner", "NSED_AGENT_RUNNER_HEARTBEAT_S", "0"),
        (AgentRunnerSettings, "agent_runner", "NSED_AGENT_RUNNER_LATENCY_SCALE", "-1"),
        (AgentRunnerSettings, "agent_runner", "NSED_AGENT_RUNNER_TRUTH_CACHE", "-1"),
    ],
)
def test_every_numeric_setting_has_its_obvious_range(
    settings_type: type[ServiceSettings], service: str, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"^invalid {service} settings: {variable}="):
        load_settings(settings_type, service, {variable: value})


@pytest.mark.parametrize("settings_type", list(preflight.SETTINGS.values()))
def test_the_defaults_are_valid(settings_type: type[ServiceSettings]) -> None:
    # convert() checks the constraints that the constructor does not.
    defaults = msgspec.structs.asdict(settings_type())
    assert msgspec.convert(defaults, settings_type) == settings_type()


@given(
    beta=st.floats() | st.sampled_from(["nan", "inf", "-inf", "1e999", "-0", "0"]),
    lam=st.floats() | st.sampled_from(["nan", "inf", "0", "1e-320"]),
    floor=st.floats() | st.floats(0.0, 1.0),
)
@settings(max_examples=300, deadline=None)
def test_a_gate_loads_exactly_when_its_model_settings_are_in_range(
    beta: float | str, lam: float | str, floor: float
) -> None:
    b, la, f = float(str(beta)), float(str(lam)), floor
    in_range = math.isfinite(b) and math.isfinite(la) and la > 0.0 and 0.0 <= f < 1.0
    env = {
        "NSED_GATE_FATIGUE_BETA": str(beta),
        "NSED_GATE_FATIGUE_LAMBDA": str(lam),
        "NSED_GATE_RETENTION_FLOOR": str(floor),
    }
    try:
        loaded = load_settings(GateSettings, "gate", env)
    except ConfigError:
        assert not in_range
    else:
        assert in_range
        assert (loaded.fatigue_beta, loaded.fatigue_lambda, loaded.retention_floor) == (b, la, f)


# -- the processes ----------------------------------------------------------------------


def start(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m module``, with only ``env`` of the NSED variables, and NATS pointed at a
    closed port: a service that got past its settings would fail differently."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NSED_", "OTEL_"))}
    clean |= {
        "PYTHONPATH": str(ROOT),
        "NSED_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "NSED_STARTUP_TIMEOUT_S": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", ["-inf", "nan"])
def test_the_gate_exits_2_with_one_line_on_an_invalid_beta(value: str) -> None:
    done = start("services.gate", NSED_GATE_FATIGUE_BETA=value)
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"nsed: invalid gate settings: NSED_GATE_FATIGUE_BETA={value!r}")


def test_a_setting_of_the_wrong_type_is_one_line_too_not_a_traceback() -> None:
    done = start("services.gate", NSED_GATE_CONCURRENCY="many")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "nsed: invalid gate settings: NSED_GATE_CONCURRENCY='many': "
        "must be a whole number, not text"
    ]


@pytest.mark.parametrize(
    ("service", "args"),
    [
        ("broker", ()),
        ("reviewer", ()),
        ("voter", ()),
        ("gateway", ()),
        ("agent_runner", (str(POOL), "--agent", "alpha")),
    ],
)
def test_every_service_reports_a_bad_shared_setting_the_same_way(
    service: str, args: tuple[str, ...]
) -> None:
    done = start(f"services.{service}", *args, NSED_CONCURRENCY="0")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"nsed: invalid {service} settings: NSED_CONCURRENCY='0'")


def test_stack_up_checks_every_services_settings_before_starting() -> None:
    assert set(preflight.SETTINGS) == set(health.STACK_SERVICES)
    assert preflight.settings_errors({}) == []
    errors = preflight.settings_errors({"NSED_GATE_FATIGUE_BETA": "inf", "NSED_ACK_WAIT_S": "0"})
    assert len(errors) == len(preflight.SETTINGS)  # the shared variable reaches every one
    assert [e for e in errors if e.startswith("nsed: invalid gate settings")] == [
        "nsed: invalid gate settings: NSED_ACK_WAIT_S='0': must be more than 0.0"
    ]
    only_gate = preflight.settings_errors({"NSED_GATE_FATIGUE_LAMBDA": "-1"})
    assert only_gate == [
        "nsed: invalid gate settings: NSED_GATE_FATIGUE_LAMBDA='-1': must be more than 0.0"
    ]


def test_stack_up_prints_the_lines_and_starts_nothing_on_an_invalid_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import stack as stack_cmd

    monkeypatch.setenv("NSED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NSED_GATEWAY_PORT", str(free_port()))  # 8080 may be another's
    monkeypatch.setenv("NSED_GATE_FATIGUE_BETA", "nan")
    assert stack_cmd.up(str(POOL), demo=False) == 2
    assert capsys.readouterr().err.splitlines() == [
        "nsed: invalid gate settings: NSED_GATE_FATIGUE_BETA='nan': not a finite number"
    ]
    assert not (tmp_path / "home" / "supervisord.conf").exists()


def test_stack_up_refuses_a_gateway_port_another_process_listens_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = preflight.gateway_taken({"NSED_GATEWAY_PORT": str(port)})
    assert line == (
        f"nsed: the gateway cannot listen on 127.0.0.1:{port} (a process listens there): "
        "set NSED_GATEWAY_PORT to a free port and run it again"
    )
    assert preflight.gateway_taken({"NSED_GATEWAY_PORT": str(free_port())}) is None
    assert preflight.gateway_taken({"NSED_GATEWAY_PORT": "-1"}) is None  # settings_errors says
