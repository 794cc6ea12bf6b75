"""A run killed in the middle saves each of its files once, counted after recovery."""

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.durability.test_crash_recovery import (
    SIDE_EFFECTS,
    client,
    create_run,
    events_of,
    step_executions,
    wait_for_step_start,
    wait_until_ended,
)

from runplane.testing.server import LiveServer, create_key

pytestmark = pytest.mark.timeout(90)


def test_a_run_killed_in_step_3_saves_each_file_once_after_restart(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], tmp_path: Path
) -> None:
    side_effects = tmp_path / "effects"
    side_effects.mkdir()
    url = new_database("filecrash")
    with ThreadPoolExecutor() as pool:
        key = pool.submit(create_key, url, tenant="filecrash")
        server = start_server(database_url=url, env={SIDE_EFFECTS: str(side_effects)})
    with client(server, key.result()) as api:
        run = create_run(api, "artifacts", {"parts": 4, "sleep": 0.6})
        wait_for_step_start(api, run["id"], 3)
        server.kill()
        assert step_executions(side_effects, run["id"])[4] == 0, "killed too late to test anything"
        server.start()

        done = wait_until_ended(api, run["id"], timeout=30)
        assert done["status"] == "succeeded", (done, server.log_tail())
        assert step_executions(side_effects, run["id"])[1] == 1  # step 1 was not run again
        files = api.get(f"/v1/runs/{run['id']}/files").json()["items"]
        assert [f["name"] for f in files] == [f"part-{i}.txt" for i in range(1, 5)]
        created = Counter(
            e["data"]["name"] for e in events_of(api, run["id"]) if e["type"] == "file.created"
        )
        assert created == {f"part-{i}.txt": 1 for i in range(1, 5)}, created
        assert [f["id"] for f in done["result"]["files"]] == [f["id"] for f in files]
        steps = api.get(f"/v1/runs/{run['id']}/steps").json()["items"]
        for f, step in zip(files, steps, strict=True):
            text = api.get(f"/v1/files/{f['id']}/content").text
            assert text == f"part {step['number']}: {step['output']['nonce']}\n"
