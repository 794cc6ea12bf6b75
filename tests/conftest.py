"""Fixtures: one suite, run on SQLite or Postgres (``RUNPLANE_TEST_DB``).

Most tests talk to one in-process app through httpx's ASGI transport; each test gets
its own tenant, so tests never see each other's rows. Tests that need a socket or a
crash start a real server process.
"""

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from runplane.app import create_app
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.settings import Settings
from runplane.testing.server import LiveServer, create_key
from runplane.testing.webhooks import WebhookReceiver

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "runplane.toml"
TEST_DB = os.environ.get("RUNPLANE_TEST_DB", "sqlite")
PG_URL = os.environ.get("RUNPLANE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_report_header() -> str:
    return f"runplane test database: {TEST_DB}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run what does not depend on the database once, in the SQLite pass, not twice."""
    if TEST_DB == "sqlite":
        return
    once = pytest.mark.skip(reason="database-independent: it runs in the SQLite pass")
    for item in items:
        if item.get_closest_marker("database_independent"):
            item.add_marker(once)


@pytest.fixture(scope="session")
def db_kind() -> str:
    """The database this run of the suite uses: ``sqlite`` or ``postgres``."""
    assert TEST_DB in ("sqlite", "postgres"), TEST_DB
    return TEST_DB


@pytest.fixture(scope="session")
def new_database(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """Make an empty database and return its URL (a file, or a fresh Postgres database)."""

    def make(name: str) -> str:
        name = f"{name}_{uuid.uuid4().hex[:8]}"
        if db_kind == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db')}/{name}.db"
        dbname = f"rpt_{name}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return PG_URL.rsplit("/", 1)[0] + "/" + dbname

    return make


@pytest.fixture(scope="session")
def settings(
    new_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings of the in-process app."""
    return Settings(
        database_url=new_database("app"),
        project=PROJECT,
        executor_id=f"test-{uuid.uuid4().hex[:8]}",
        max_body_bytes=1024 * 1024,
        db_connections=16,
        cancel_poll_seconds=0.1,
        heartbeat_seconds=0.5,
        # How long creating an ON_START run waits for its plan: it returns as soon as the
        # plan is there, so a longer wait costs nothing unless the machine is loaded.
        plan_wait_seconds=30,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app, with its lifespan (database, engine, worker) running for the session."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def rt(app: FastAPI) -> Runtime:
    """The app's runtime, for tests that look behind the API."""
    runtime: Runtime = app.state.rt
    return runtime


def _client(app: FastAPI, key: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://runplane.test",
        headers=headers,
        timeout=30,
    )


@pytest.fixture
async def make_client(app: FastAPI, rt: Runtime) -> AsyncIterator[Callable[..., object]]:
    """A factory of clients, each for a new tenant (or a given one) and role."""
    clients: list[httpx.AsyncClient] = []

    async def make(role: str = "admin", tenant: str | None = None) -> httpx.AsyncClient:
        key = await auth.create_key(rt.db, tenant or f"t-{uuid.uuid4().hex[:10]}", None, role)
        client = _client(app, key)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def api(make_client: Callable[..., object]) -> httpx.AsyncClient:
    """An admin client of a fresh tenant."""
    client = await make_client()  # type: ignore[operator]
    assert isinstance(client, httpx.AsyncClient)
    return client


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no API key."""
    async with _client(app, None) as client:
        yield client


class Live:
    """A running server process and a key for it."""

    def __init__(self, server: LiveServer, key: str) -> None:
        self.server = server
        self.url = server.url
        self.key = key
        self.database_url = server.database_url

    def client(self) -> httpx.Client:
        """A sync httpx client for this server."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver on loopback for the session: the one internal address that the
    live server is allowed to call (the suite otherwise keeps the safe default)."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def live_server(
    new_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
    webhook_receiver: WebhookReceiver,
) -> Iterator[Live]:
    """One real server on a free loopback port, for SSE, the CLI and the client."""
    url = new_database("live")
    allow = {"RUNPLANE_OUTBOUND_ALLOW": webhook_receiver.allow_entry}
    server = LiveServer(url, cwd=tmp_path_factory.mktemp("live"), project=PROJECT, env=allow)
    with server:
        yield Live(server, create_key(url, tenant="live"))


@pytest.fixture
def start_server(
    new_database: Callable[[str], str], tmp_path: Path
) -> Iterator[Callable[..., LiveServer]]:
    """Start servers (or workers) of one's own, on a database of one's own; stopped at the end."""
    started: list[LiveServer] = []
    url = new_database("own")

    def start(**kwargs: object) -> LiveServer:
        kwargs.setdefault("project", PROJECT)
        server = LiveServer(str(kwargs.pop("database_url", url)), cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for s in started:
        s.stop()
