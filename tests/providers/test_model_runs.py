"""Runs whose agent calls ``ctx.complete`` against the stub model server, end to end.

A live server (its own process) talks to the stub over loopback as it would to any
OpenAI-compatible endpoint; the run's events carry the streamed text as
``message.delta``, and a kill -9 during a model call shows which calls are made again.
"""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.testing.model_stubs import ModelStub, Reply
from runplane.testing.server import LiveServer, create_key

AGENTS = '''
from runplane import agent


@agent(output="json")
async def ask_twice(ctx, input):
    """Ask the model, then ask it again about its first answer."""
    first = await ctx.complete([{"role": "user", "content": input["question"]}], name="first")
    second = await ctx.complete(
        [{"role": "user", "content": "again: " + first["text"]}], name="second"
    )
    return {"first": first, "second": second}


@agent(output="json")
async def ask_model(ctx, input):
    """Ask the model the input names."""
    return await ctx.complete(
        [{"role": "user", "content": input["question"]}], model=input.get("model")
    )
'''


def project(root: Path, module: str = "model_agents", source: str = AGENTS) -> Path:
    """A project file loading ``source`` as the module ``module``."""
    (root / f"{module}.py").write_text(source)
    toml = root / "runplane.toml"
    toml.write_text(f'[project]\nname = "models"\nmodules = ["{module}"]\n')
    return toml


@pytest.fixture
def stub() -> Iterator[ModelStub]:
    with ModelStub() as server:
        yield server


def model_env(stub: ModelStub) -> dict[str, str]:
    return {
        "RUNPLANE_MODEL_PROVIDER": "openai",
        "RUNPLANE_MODEL_BASE_URL": stub.openai_url,
        "RUNPLANE_MODEL_NAME": "stub-model",
        "RUNPLANE_MODEL_API_KEY": "sk-stub",
        # The stub is on loopback, as Ollama or vLLM would be: allowed explicitly.
        "RUNPLANE_ALLOW_PRIVATE_NETWORKS": "true",
    }


def started(
    start_server: Callable[..., LiveServer], url: str, tenant: str, **options: Any
) -> tuple[LiveServer, httpx.Client]:
    """A server and a client of a new tenant's key (made while the server boots)."""
    with ThreadPoolExecutor() as pool:
        key = pool.submit(create_key, url, tenant=tenant)
        server = start_server(database_url=url, **options)
    headers = {"Authorization": f"Bearer {key.result()}"}
    return server, httpx.Client(base_url=server.url, headers=headers, timeout=30)


def events_of(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def wait_until_ended(api: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        run = api.get(f"/v1/runs/{run_id}", params={"wait": max(0.1, min(5, remaining))}).json()
        if run["status"] in ("succeeded", "failed", "canceled") or remaining <= 0:
            return dict(run)


def test_a_run_streams_the_models_text_as_message_delta_events(
    start_server: Callable[..., LiveServer],
    new_database: Callable[[str], str],
    stub: ModelStub,
    tmp_path: Path,
) -> None:
    text = " ".join(f"word{n}" for n in range(40))
    stub.script(
        Reply(text=text, pieces=20, piece_delay=0.02, usage={"cached_tokens": 2}),
        Reply(text="short second answer"),
    )
    _, api = started(
        start_server, new_database("e2e"), "models", project=project(tmp_path), env=model_env(stub)
    )
    with api:
        body = {"agent_id": "ask_twice", "input": {"question": "count to forty"}, "wait": 20}
        run = api.post("/v1/runs", json=body).json()
        assert run["status"] == "succeeded", run
        first = run["result"]["content"]["first"]
        assert first["text"] == text and first["provider"] == "openai"
        assert first["model"] == "stub-model"
        assert first["usage"]["cached_tokens"] == 2 and first["usage"]["output_tokens"] == 40
        events = events_of(api, run["id"])

    deltas = [e for e in events if e["type"] == "message.delta"]
    step = min(d["data"]["step"] for d in deltas)
    first_step = [d["data"] for d in deltas if d["data"]["step"] == step]
    assert "".join(d["text"] for d in first_step) == text
    # 20 pieces over ~0.4 s, coalesced to at most 20 events a second: fewer than 20 events.
    assert 1 < len(first_step) < 20
    assert [d["index"] for d in first_step] == list(range(len(first_step)))
    second_step = [d["data"]["text"] for d in deltas if d["data"]["step"] != step]
    assert "".join(second_step) == "short second answer"
    assert stub.requests[0]["stream"] is True
    assert stub.requests[1]["messages"] == [{"role": "user", "content": "again: " + text}]


def test_a_kill_during_a_model_call_makes_that_call_again_but_not_the_recorded_one(
    start_server: Callable[..., LiveServer],
    new_database: Callable[[str], str],
    stub: ModelStub,
    tmp_path: Path,
) -> None:
    stub.script(Reply(text="first answer"), Reply(text="never finished", first_token_delay=60))
    server, api = started(
        start_server, new_database("kill"), "crash", project=project(tmp_path), env=model_env(stub)
    )
    with api:
        body = {"agent_id": "ask_twice", "input": {"question": "q"}}
        run = api.post("/v1/runs", json=body).json()
        deadline = time.monotonic() + 20
        while len(stub.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(stub.requests) == 2, server.log_tail()

        server.kill()  # kill -9 while the second call waits for its first token
        server.start()  # same cwd and port: the same executor, which recovers the run

        done = wait_until_ended(api, run["id"], timeout=30)
        assert done["status"] == "succeeded", (done, server.log_tail())

    asked = [r["messages"][-1]["content"] for r in stub.requests]
    # The recorded first call is not made again; the unrecorded second one is.
    assert asked == ["q", "again: first answer", "again: first answer"]
    result = done["result"]["content"]
    assert result["first"]["text"] == "first answer"
    assert result["second"]["text"] == "stub answer to: again: first answer"


def test_a_run_calls_the_tenants_own_provider_with_its_key(
    start_server: Callable[..., LiveServer],
    new_database: Callable[[str], str],
    stub: ModelStub,
    tmp_path: Path,
) -> None:
    # The server has no model provider of its own: the tenant brings one.
    env = {"RUNPLANE_ALLOW_PRIVATE_NETWORKS": "true"}
    _, api = started(start_server, new_database("own"), "own", project=project(tmp_path), env=env)
    with api:
        provider = {"kind": "openai", "base_url": stub.openai_url, "api_key": "sk-tenant-2468"}
        assert api.put("/v1/model-providers/local", json=provider).status_code == 200
        entry = {
            "provider": "local",
            "context_window": 8192,
            "input_per_mtok": 0,
            "output_per_mtok": 0,
        }
        assert api.put("/v1/models/llama3", json=entry).status_code == 200
        stub.script(Reply(text="the tenant's model answers"))

        body = {"agent_id": "ask_model", "input": {"question": "hi", "model": "llama3"}, "wait": 20}
        run = api.post("/v1/runs", json=body).json()
        offline = api.post(
            "/v1/runs", json={**body, "input": {"question": "hi", "model": "offline"}}
        ).json()

    assert run["status"] == "succeeded", run
    reply = run["result"]["content"]
    assert reply["text"] == "the tenant's model answers" and reply["provider"] == "openai"
    assert stub.requests[0]["model"] == "llama3"
    assert stub.headers[0]["authorization"] == "Bearer sk-tenant-2468"
    assert offline["result"]["content"]["provider"] == "offline" and len(stub.requests) == 1
