"""``processes = 2``: two server processes share one port, each a whole server."""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from runplane.testing.server import LiveServer, create_key


def test_two_processes_share_the_port_and_both_run_runs(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("procs")
    with ThreadPoolExecutor() as pool:
        key = pool.submit(create_key, url, tenant="procs")
        server = start_server(database_url=url, env={"RUNPLANE_PROCESSES": "2"})
    headers = {"x-api-key": key.result()}
    executors: set[str] = set()
    deadline = time.monotonic() + 30
    # The second process may still be starting when the first answers; a new connection
    # each time, which the kernel hands to either process that listens.
    while len(executors) < 2 and time.monotonic() < deadline:
        health = httpx.get(f"{server.url}/healthz", headers=headers, timeout=10)
        executors.add(health.json()["executor_id"])
        time.sleep(0.05)
    assert len(executors) == 2, executors

    def one(i: int) -> tuple[int, object]:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
            if i % 2:
                r = api.post(
                    "/runs/wait", json={"assistant_id": "lg_echo", "input": {"message": i}}
                )
                return r.status_code, r.json()
            r = api.post("/v1/runs", json={"agent_id": "echo", "input": {"n": i}, "wait": 20})
            return r.status_code, r.json()["status"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(24)))
    for i, (status, body) in enumerate(answers):
        assert status in (200, 201), (i, body)
        assert body == ({"message": i} if i % 2 else "succeeded"), (i, body)

    # A supervisor killed outright leaves no process serving on unsupervised.
    assert server.process is not None
    children = _children_of(server.process.pid)
    assert len(children) >= 2, children
    server.kill()
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(pid) for pid in children), children


def _children_of(parent: int) -> list[int]:
    """The server processes a supervisor started (Linux: from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
