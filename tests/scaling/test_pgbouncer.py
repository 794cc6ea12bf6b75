"""runplane behind PgBouncer in transaction mode, with a session URL for what needs one.

The test starts its own PgBouncer (``make pgbouncer`` installs it) on a free port, in
front of the test Postgres, with ``pool_mode = transaction``: consecutive transactions of
one client connection may run on different server connections. What breaks there
(prepared statements, LISTEN, session advisory locks) is shown, then avoided by
``RUNPLANE_DATABASE_SESSION_URL`` (docs/scaling.md).
"""

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from runplane.store.db import Database
from runplane.store.notify import CHANNEL, Listener
from runplane.testing.server import LiveServer, create_key, free_port

pytestmark = pytest.mark.timeout(180)

PG_URL = os.environ.get("RUNPLANE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None
)
# Fewer server connections than the clients want: the pooler has to share them out.
SERVER_CONNECTIONS = 4


class PgBouncer:
    """A PgBouncer process in transaction mode in front of the test Postgres."""

    def __init__(self, binary: str, folder: Path) -> None:
        target = make_url(PG_URL)
        self.port = free_port()
        users = folder / "users.txt"
        users.write_text(f'"{target.username or "postgres"}" ""\n')
        config = folder / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={target.host or '127.0.0.1'} port={target.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 400\n"
            "logfile =\npidfile =\n"
        )
        for path in (folder, users, config):
            path.chmod(0o755 if path.is_dir() else 0o644)
        # PgBouncer refuses to run as root; it can drop to another user itself.
        as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [binary, *as_user, str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.process.communicate()[0]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not listen in time")

    def url_of(self, direct_url: str) -> str:
        """The URL of the same database, through this PgBouncer."""
        return make_url(direct_url).set(host="127.0.0.1", port=self.port).render_as_string(False)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def pgbouncer(db_kind: str) -> Iterator[PgBouncer]:
    if db_kind != "postgres":
        pytest.skip("PgBouncer is a Postgres matter")
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (make pgbouncer, or apt-get install pgbouncer)")
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    bouncer = PgBouncer(PGBOUNCER, folder)
    yield bouncer
    bouncer.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _hammer(db: Database, clients: int = 16, rounds: int = 20) -> list[str]:
    """Reads and writes from many connections at once; the errors they met."""
    errors: list[str] = []

    async def client(i: int) -> None:
        for j in range(rounds):
            try:
                async with db.read() as conn:
                    assert (await conn.execute(sa.text(f"SELECT {i} + :j"), {"j": j})).scalar() == (
                        i + j
                    )
                async with db.write() as conn:
                    await conn.execute(sa.text("SELECT :i * 2"), {"i": i})
            except Exception as exc:
                errors.append(str(exc).splitlines()[0])

    async def run() -> None:
        try:
            await asyncio.gather(*(client(i) for i in range(clients)))
        finally:
            await db.close()

    asyncio.run(run())
    return errors


def test_prepared_statements_break_behind_a_transaction_pooler_unless_told_of_it(
    pgbouncer: PgBouncer, new_database: Callable[[str], str]
) -> None:
    url = pgbouncer.url_of(new_database("pgb_prepared"))
    # asyncpg's prepared statements land on one server connection and are used on another.
    unaware = _hammer(Database(url, 8))
    assert any("prepared statement" in e for e in unaware), unaware[:3]
    # Told: nothing outlives its transaction, and reads run in one.
    assert _hammer(Database(url, 8, pooler=True)) == []


def test_listen_hears_nothing_through_the_pooler_and_everything_through_the_session_url(
    pgbouncer: PgBouncer, new_database: Callable[[str], str]
) -> None:
    direct = new_database("pgb_listen")
    pooled = pgbouncer.url_of(direct)

    async def heard_through(listen_url: str) -> list[str]:
        heard: list[str] = []
        listener = Listener(listen_url, {CHANNEL: heard.append})
        db = Database(pooled, 8, pooler=True)
        await listener.start()
        try:
            for i in range(3):
                async with db.write() as conn:
                    # announce() marks this process's own notifications: send another's.
                    await conn.execute(
                        sa.text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": f"run_{i} other"}
                    )
            deadline = time.monotonic() + 5
            while len(heard) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return heard
        finally:
            await listener.stop()
            await db.close()

    assert asyncio.run(heard_through(pooled)) == []
    assert asyncio.run(heard_through(direct)) == ["run_0", "run_1", "run_2"]


def test_a_server_behind_pgbouncer_with_a_session_url_runs_agents_and_graphs(
    pgbouncer: PgBouncer,
    new_database: Callable[[str], str],
    start_server: Callable[..., LiveServer],
) -> None:
    direct = new_database("pgb_server")
    key = create_key(direct, tenant="pgbouncer")
    env = {"RUNPLANE_DATABASE_SESSION_URL": direct, "RUNPLANE_DB_CONNECTIONS": "8"}
    # Two processes: their connections (8 each) share PgBouncer's few server connections.
    servers = [start_server(database_url=pgbouncer.url_of(direct), env=env) for _ in range(2)]
    headers = {"Authorization": f"Bearer {key}"}

    def create(i: int) -> httpx.Response:
        server = servers[i % 2]
        body = {"agent_id": "steps", "input": {"steps": 2, "i": i}, "wait": 60}
        return httpx.post(f"{server.url}/v1/runs", json=body, headers=headers, timeout=90)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(create, range(48)))
    assert [r.status_code for r in answers] == [201] * 48, [r.text for r in answers if r.is_error]
    assert {r.json()["status"] for r in answers} == {"succeeded"}

    with httpx.Client(base_url=servers[1].url, headers=headers, timeout=90) as api:
        thread = api.post("/threads", json={}).json()["thread_id"]
        body = {"assistant_id": "lg_echo", "input": {"message": "through the pooler"}}
        done = api.post(f"/threads/{thread}/runs/wait", json=body)
        assert done.status_code == 200, done.text
        assert done.json()["message"] == "through the pooler"
        # The checkpoint went through the pooler too: the thread's state is there.
        state = api.get(f"/threads/{thread}/state")
        assert state.status_code == 200 and state.json()["values"], state.text
    for server in servers:
        assert "prepared statement" not in server.log_tail(200)
