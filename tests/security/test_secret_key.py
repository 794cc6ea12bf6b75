"""The server secret: made once, whole, for every process that starts together; never
empty or short; kept, with the databases, where only the server's user can read it."""

import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from runplane.services.crypto import load_or_create_secret
from runplane.settings import MIN_SECRET_BYTES
from runplane.testing.server import LiveServer, claim_port, create_key

PROJECT = Path(__file__).resolve().parents[2] / "runplane.toml"
RUNPLANE = str(Path(sys.executable).parent / "runplane")
pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only
RACE = """
import sys, time
from pathlib import Path
from runplane.services.crypto import load_or_create_secret
go = Path(sys.argv[2])
Path(sys.argv[3]).touch()
while not go.exists():
    time.sleep(0.001)
print(load_or_create_secret(Path(sys.argv[1])).decode())
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_threads_racing_for_a_new_secret_all_get_the_same_whole_one(tmp_path: Path) -> None:
    for round_ in range(20):
        path = tmp_path / f"round-{round_}" / "data" / "secret.key"
        start = threading.Barrier(16)
        got: list[bytes] = []

        def take(
            path: Path = path, start: threading.Barrier = start, got: list[bytes] = got
        ) -> None:
            start.wait()
            got.append(load_or_create_secret(path))

        threads = [threading.Thread(target=take) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(got) == 16 and len(set(got)) == 1, got
        assert len(got[0]) >= MIN_SECRET_BYTES and path.read_bytes().strip() == got[0]
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        assert os.listdir(path.parent) == ["secret.key"], "no draft is left behind"


@pytest.mark.timeout(240)  # eight interpreters starting on a loaded machine
def test_processes_racing_for_a_new_secret_all_get_the_same_whole_one(tmp_path: Path) -> None:
    here = tmp_path
    path, go = here / "data" / "secret.key", here / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(path), str(go), str(here / f"ready-{i}")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    deadline = time.monotonic() + 120
    while len(list(here.glob("ready-*"))) < 8:  # every child imported, waiting for go
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    secrets = {child.communicate(timeout=60)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert len(secrets) == 1, secrets
    (secret,) = secrets
    assert len(secret) >= MIN_SECRET_BYTES and path.read_text() == secret
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_an_empty_secret_file_is_refused_not_used(tmp_path: Path) -> None:
    # What the old race could leave behind: a process that read it ran with no secret.
    path = tmp_path / "secret.key"
    path.write_bytes(b"\n")
    with pytest.raises(RuntimeError, match="no usable secret"):
        load_or_create_secret(path, wait=0.2)
    assert path.read_bytes() == b"\n", "the operator's file is left for them to look at"


@pytest.mark.timeout(180)
def test_a_short_secret_key_is_refused_and_the_server_never_listens(
    new_database: Callable[[str], str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port, claim = claim_port()
    request.addfinalizer(claim.close)
    weak = "changeme-changeme"  # 17 bytes: guessable offline from one signed approval link
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env["RUNPLANE_SECRET_KEY"] = weak
    done = subprocess.run(
        [RUNPLANE, "serve", "--port", str(port), "--database-url", new_database("weak")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "RUNPLANE_SECRET_KEY must be at least 32 bytes" in done.stderr
    assert weak not in done.stderr + done.stdout, "the refused key is not echoed"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


@pytest.mark.timeout(300)
def test_two_server_processes_started_together_share_one_secret_kept_private(
    db_kind: str, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    # A fresh folder for the data: made by runplane, so it is runplane's to lock down.
    if db_kind == "sqlite":
        url, data = f"sqlite:///{tmp_path}/data/runplane.db", tmp_path / "data"
    else:
        url, data = new_database("secret2"), tmp_path / ".runplane"
    key = create_key(url, tenant="secret")
    server = LiveServer(url, cwd=tmp_path, project=PROJECT, env={"RUNPLANE_PROCESSES": "2"})
    with server.start(timeout=120):
        # Sign in to the console: the session cookie is sealed with a key derived from
        # the secret, so a process with another secret would not know the session.
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            form = browser.get("/console/login").text
            token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            r = browser.post("/console/login", data={"api_key": key, "csrf": token})
            assert r.status_code == 303, r.text
            session = browser.cookies["runplane_console"]
        answered: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while len(answered) < 2 or min(answered.values()) < 3:
            assert time.monotonic() < deadline, answered
            # One connection per round: the kernel hands it to either process; the
            # health check says which one it is, and the page whether it knows the session.
            with httpx.Client(base_url=server.url, timeout=30) as one:
                health = one.get("/healthz", headers={"x-api-key": key}).json()
                one.cookies.set("runplane_console", session)
                page = one.get("/console/runs")
            assert page.status_code == 200, (health["executor_id"], page.status_code)
            answered[health["executor_id"]] = answered.get(health["executor_id"], 0) + 1

    assert mode(data) == 0o700
    secret = data / "secret.key"
    assert mode(secret) == 0o600 and len(secret.read_bytes().strip()) >= MIN_SECRET_BYTES
    if db_kind == "sqlite":
        files = [p for p in data.iterdir() if ".db" in p.name and not p.name.endswith(".lock")]
        assert {"runplane.db", "runplane.dbos.db"} <= {p.name for p in files}
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
