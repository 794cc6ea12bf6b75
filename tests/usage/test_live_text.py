"""``message.delta``: a model's text as it is written, coalesced, streamed and watched."""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from runplane.cli._watch import RunView
from runplane.engine.deltas import MAX_PER_SECOND
from runplane.schemas import EventPublic, RunPublic
from runplane.testing.server import LiveServer, create_key

PROJECT = Path(__file__).with_name("runplane.toml")
RUNPLANE = str(Path(sys.executable).parent / "runplane")


async def test_a_fast_stream_is_coalesced_to_at_most_twenty_events_a_second(
    api: httpx.AsyncClient,
) -> None:
    # 600 pieces about a millisecond apart: a token stream far faster than 20 a second.
    body = {"agent_id": "metered_chat", "input": {"prompt": "stream 600 0.001"}, "wait": 30}
    run = (await api.post("/v1/runs", json=body)).json()
    assert run["status"] == "succeeded", run
    events = (await api.get(f"/v1/runs/{run['id']}/events", params={"limit": 1000})).json()
    events = events["items"]
    deltas = [e for e in events if e["type"] == "message.delta"]
    started = next(e for e in events if e["type"] == "step.started")
    completed = next(e for e in events if e["type"] == "step.completed")
    seconds = (
        datetime.fromisoformat(completed["at"]) - datetime.fromisoformat(started["at"])
    ).total_seconds()
    assert seconds > 0.3  # the stream really took a while
    # At most one event per 1/20 s (plus the first and the rest at the close).
    assert 2 <= len(deltas) <= seconds * MAX_PER_SECOND + 2, (len(deltas), seconds)
    assert [d["data"]["index"] for d in deltas] == list(range(len(deltas)))
    assert {d["data"]["step"] for d in deltas} == {started["data"]["number"]}
    # Nothing lost, nothing doubled, in order: the pieces make the answer.
    text = "".join(d["data"]["text"] for d in deltas)
    assert text == "".join(f"w{i} " for i in range(600)) == run["result"]["content"]["answers"][0]
    assert all(started["seq"] < d["seq"] < completed["seq"] for d in deltas)


@pytest.mark.database_independent
def test_the_watch_view_shows_the_text_of_the_running_step_and_drops_it_when_done() -> None:
    now = datetime.now()
    run = RunPublic.model_validate(
        {
            "id": "run_1",
            "agent_id": "agt_1",
            "agent_name": "metered_chat",
            "revision_id": "rev_1",
            "status": "running",
            "trigger": "api",
            "created_at": now,
            "updated_at": now,
        }
    )
    view = RunView(run)

    def event(seq: int, type_: str, data: dict[str, Any]) -> EventPublic:
        return EventPublic(
            run_id="run_1", seq=seq, type=type_, at=now, data=data, hash="h", prev_hash="p"
        )

    view.apply(event(1, "step.started", {"number": 1, "name": "ask 1"}))
    view.apply(event(2, "message.delta", {"step": 1, "index": 0, "text": "Hello, "}))
    view.apply(event(3, "message.delta", {"step": 1, "index": 1, "text": "world"}))
    assert view.live_text == "Hello, world"
    assert not view.recent  # the text is shown once, not as event lines
    view.apply(event(4, "step.completed", {"number": 1, "name": "ask 1", "output": {}}))
    assert view.live_text == ""


@pytest.fixture(scope="module")
def usage_server(
    new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A live server of the usage agents (answered by the offline provider): URL, key."""
    url = new_database("usage_live")
    server = LiveServer(url, cwd=tmp_path_factory.mktemp("usage_live"), project=PROJECT)
    with server:
        yield server.url, create_key(url, tenant=f"live-{uuid.uuid4().hex[:8]}")


def test_the_event_stream_delivers_the_models_text_as_it_is_written(
    usage_server: tuple[str, str],
) -> None:
    base, key = usage_server
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
        body = {"agent_id": "metered_chat", "input": {"prompt": "hello live world"}}
        run = api.post("/v1/runs", json=body).json()
        types, texts = [], []
        with api.stream("GET", f"/v1/runs/{run['id']}/stream") as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line.removeprefix("data:"))
                    types.append(message["type"])
                    if message["type"] == "message.delta":
                        texts.append(message["data"]["text"])
    assert "".join(texts) == "hello live world"
    assert types.index("message.delta") < types.index("step.completed")


def test_watching_a_run_prints_the_models_text_on_one_line(usage_server: tuple[str, str]) -> None:
    base, key = usage_server
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env.update({"RUNPLANE_URL": base, "RUNPLANE_API_KEY": key})
    done = subprocess.run(
        [RUNPLANE, "run", "metered_chat", "--input", '{"prompt": "hello live world"}', "--watch"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "       model: hello live world" in lines, done.stdout
    # The line after the text is the next event's, on its own line.
    after = lines[lines.index("       model: hello live world") + 1]
    assert "step.completed" in after


def test_the_usage_command_prints_the_tenants_totals(usage_server: tuple[str, str]) -> None:
    base, key = usage_server
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env.update({"RUNPLANE_URL": base, "RUNPLANE_API_KEY": key})
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
        body = {"agent_id": "metered_chat", "input": {"prompt": "one two three"}, "wait": 20}
        assert api.post("/v1/runs", json=body).json()["status"] == "succeeded"
        expected = api.get("/v1/usage", params={"group_by": "model"}).json()

    def usage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RUNPLANE, "usage", *args], env=env, capture_output=True, text=True, timeout=30
        )

    table = usage("--by", "model")
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    offline = expected["items"][0]
    assert offline["key"] == "offline"
    assert rows["offline"][1] == str(offline["calls"])
    assert rows["offline"][3] == str(offline["usage"]["input_tokens"])
    printed = usage("--by", "model", "--json")
    assert json.loads(printed.stdout) == expected
    bad = usage("--since", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
