"""``/readyz`` of live servers: 503 with the database unreachable or behind the code."""

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from runplane.store import migrate
from runplane.store.dialect import sync_url
from runplane.testing.faults import FaultProxy
from runplane.testing.server import LiveServer


def test_readyz_is_503_while_the_schema_is_behind_the_code(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("behind_ready")
    server = start_server(database_url=url)
    # Set back after start-up (a server refuses to start on a database behind it):
    # as if an older release's migration had been restored under a running server.
    engine = sa.create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'older'"))
    engine.dispose()

    ready = httpx.get(f"{server.url}/readyz", timeout=10)

    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert found(body)["status"] == "unready"
    assert found(body)["database"] == "ok"
    assert found(body)["migrations"] == f"behind: at older, this code needs {migrate.head()}"
    assert httpx.get(f"{server.url}/livez", timeout=10).status_code == 200
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_readyz_is_503_while_the_database_does_not_answer(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str], db_kind: str
) -> None:
    if db_kind != "postgres":
        pytest.skip("a SQLite file cannot be made unreachable under a running server")
    url = new_database("unreachable")
    with FaultProxy(urlsplit(url).port or 5432) as proxy:
        server = start_server(database_url=proxy.url_for(url))
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200

        with proxy.fault("stalling"):
            ready = httpx.get(f"{server.url}/readyz", timeout=20)
            live = httpx.get(f"{server.url}/livez", timeout=5)

        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert found(body)["status"] == "unready"
        assert found(body)["database"] == "no answer within 2 s"
        assert live.json() == {"status": "ok"}  # liveness touches no database


def found(body: dict[str, object]) -> dict[str, object]:
    """A 503's details (the error model) as {name: value}."""
    details = body["details"]
    assert isinstance(details, list)
    return {d["name"]: d["value"] for d in details}
