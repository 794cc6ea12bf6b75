"""The one logging setup: text or JSON lines, and the run every line about a run names."""

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from runplane.domain.events import GENESIS
from runplane.domain.ids import new_id
from runplane.domain.models import utcnow
from runplane.logs import bind_run, configure_logging
from runplane.services.runtime import Runtime
from runplane.settings import Settings
from runplane.store import runs as runs_store
from runplane.store import tenants as tenants_store
from runplane.store.db import Database
from runplane.testing.server import LiveServer, create_key, free_port

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING runplane\.engine "
    r"run_id=run_1 tenant=t1 the step took 3 s$"
)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Where the configured handler writes; the process's logging is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("runplane").level)
    dbos = logging.getLogger("dbos")
    dbos_handlers = list(dbos.handlers)
    yield io.StringIO()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("runplane").setLevel(saved[2])
    dbos.handlers[:] = dbos_handlers
    logging.captureWarnings(False)


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def records(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in lines(out)]


@pytest.mark.database_independent
def test_text_lines_give_time_level_logger_run_and_message(output: io.StringIO) -> None:
    configure_logging("warning", "text", stream=output)
    with bind_run("run_1", "t1"):
        logging.getLogger("runplane.engine").warning("the step took %d s", 3)
    logging.getLogger("runplane.engine").warning("no run here")

    first, second = lines(output)
    assert TEXT_LINE.match(first), first
    assert second.endswith(" WARNING runplane.engine no run here")
    assert "run_id=" not in second


@pytest.mark.database_independent
def test_json_lines_are_one_object_each_with_extras_and_the_traceback(
    output: io.StringIO,
) -> None:
    configure_logging("info", "json", stream=output)
    log = logging.getLogger("runplane.webhooks")
    with bind_run("run_2", "acme"):
        log.info("two\nlines", extra={"attempt": 2})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")

    info, error = records(output)
    assert list(info)[:6] == ["at", "level", "logger", "message", "run_id", "tenant"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", info["at"])
    assert info == {
        **info,
        "level": "INFO",
        "logger": "runplane.webhooks",
        "message": "two\nlines",
        "run_id": "run_2",
        "tenant": "acme",
        "attempt": 2,
    }
    assert "exc" not in info
    assert error["level"] == "ERROR" and error["run_id"] == "run_2"
    assert error["exc"].startswith("Traceback") and "ValueError: boom" in error["exc"]


@pytest.mark.database_independent
def test_the_level_holds_back_quieter_records(output: io.StringIO) -> None:
    configure_logging("error", "json", stream=output)
    logging.getLogger("runplane.workers").warning("held back")
    logging.getLogger("runplane.workers").error("let through")
    assert [r["message"] for r in records(output)] == ["let through"]


@pytest.mark.database_independent
def test_bind_run_names_the_run_inside_the_scope_only(output: io.StringIO) -> None:
    configure_logging("warning", "json", stream=output)
    log = logging.getLogger("runplane.execution")
    log.warning("before")
    with bind_run("run_a", "t1"):
        log.warning("inside")
        with bind_run("run_b", "t2"):
            log.warning("nested")
        log.warning("inside again")
    log.warning("after")

    seen = [(r["message"], r.get("run_id"), r.get("tenant")) for r in records(output)]
    assert seen == [
        ("before", None, None),
        ("inside", "run_a", "t1"),
        ("nested", "run_b", "t2"),
        ("inside again", "run_a", "t1"),
        ("after", None, None),
    ]


@pytest.mark.database_independent
async def test_tasks_and_threads_started_in_a_run_scope_carry_the_run(
    output: io.StringIO,
) -> None:
    configure_logging("warning", "json", stream=output)
    log = logging.getLogger("runplane.engine")

    async def child(name: str) -> None:
        await asyncio.sleep(0)
        log.warning(name)

    async def run_task(run_id: str, tenant: str) -> None:
        with bind_run(run_id, tenant):
            await asyncio.gather(child(f"task of {run_id}"))
            inner = asyncio.create_task(child(f"inner task of {run_id}"))
            await asyncio.to_thread(log.warning, f"thread of {run_id}")
            await inner

    await asyncio.gather(run_task("run_x", "tx"), run_task("run_y", "ty"), child("outside"))

    by_message = {r["message"]: (r.get("run_id"), r.get("tenant")) for r in records(output)}
    assert by_message == {
        "task of run_x": ("run_x", "tx"),
        "inner task of run_x": ("run_x", "tx"),
        "thread of run_x": ("run_x", "tx"),
        "task of run_y": ("run_y", "ty"),
        "inner task of run_y": ("run_y", "ty"),
        "thread of run_y": ("run_y", "ty"),
        "outside": (None, None),
    }


@pytest.mark.database_independent
def test_an_explicit_run_in_extra_wins_over_the_bound_one(output: io.StringIO) -> None:
    configure_logging("warning", "json", stream=output)
    with bind_run("run_bound", "t-bound"):
        logging.getLogger("runplane.workers").warning(
            "about another run", extra={"run_id": "run_other", "tenant": "t-other"}
        )
    (record,) = records(output)
    assert (record["run_id"], record["tenant"]) == ("run_other", "t-other")


@pytest.mark.database_independent
def test_configuring_again_replaces_the_handler_instead_of_doubling_lines(
    output: io.StringIO,
) -> None:
    configure_logging("warning", "text", stream=io.StringIO())
    configure_logging("warning", "json", stream=output)
    configure_logging("warning", "json", stream=output)
    logging.getLogger("runplane").warning("once")
    assert [r["message"] for r in records(output)] == ["once"]


@pytest.mark.database_independent
def test_other_libraries_and_python_warnings_come_out_in_the_same_format(
    output: io.StringIO,
) -> None:
    configure_logging("warning", "json", stream=output)
    logging.getLogger("uvicorn.error").warning("from uvicorn")
    logging.getLogger("dbos").warning("from dbos")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(True)
        warnings.warn("old api", DeprecationWarning, stacklevel=1)

    loggers = {r["logger"]: r["message"] for r in records(output)}
    assert loggers["uvicorn.error"] == "from uvicorn"
    assert loggers["dbos"] == "from dbos"
    assert "old api" in loggers["py.warnings"]


@pytest.mark.database_independent
def test_an_unknown_level_is_refused_by_name(output: io.StringIO) -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        configure_logging("loud", "text", stream=output)


@pytest.mark.database_independent
def test_the_log_format_setting_reads_the_environment_and_refuses_other_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().log_format == "text"
    monkeypatch.setenv("RUNPLANE_LOG_FORMAT", "JSON")
    assert Settings().log_format == "json"
    monkeypatch.setenv("RUNPLANE_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError) as refused:
        Settings()
    (error,) = refused.value.errors()
    assert error["loc"] == ("log_format",) and "'text' or 'json'" in error["msg"]


async def test_a_requeued_orphan_run_is_logged_with_its_run_and_tenant(
    api: httpx.AsyncClient, rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="runplane.reconcile")
    done = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 10})).json()
    async with rt.db.read() as conn:
        template = await runs_store.get_run(conn, None, done["id"])
    assert template is not None
    past = utcnow() - timedelta(minutes=5)
    keep = (
        *("tenant_id", "agent_id", "agent_name", "revision_id", "trigger"),
        *("input", "variables", "context", "metadata", "timeout_seconds"),
    )
    orphan = {
        **{k: template[k] for k in keep},
        **{"id": new_id("run"), "status": "queued", "last_hash": GENESIS},
        **{"created_at": past, "updated_at": past, "admitted_at": past},
    }
    async with rt.db.write() as conn:  # admitted, but its workflow never was recorded
        await runs_store.insert_run(conn, orphan)

    async def requeued() -> logging.LogRecord:
        while True:
            for record in caplog.records:
                if getattr(record, "run_id", None) == orphan["id"]:
                    return record
            await asyncio.sleep(0.05)

    record = await asyncio.wait_for(requeued(), timeout=15)
    assert record.tenant == template["tenant_id"]  # type: ignore[attr-defined]
    assert record.getMessage() == (
        f"run {orphan['id']} (queued): The run had no workflow; queued {orphan['id']} again"
    )


def test_a_live_server_logs_json_lines_naming_the_run_and_its_tenant(
    start_server: Callable[..., LiveServer], new_database: Callable[[str], str]
) -> None:
    url = new_database("logs")
    with ThreadPoolExecutor() as pool:
        key = pool.submit(create_key, url, tenant="logs-tenant")
        closed_port = free_port()  # nothing listens there: the webhook fails
        env = {
            "RUNPLANE_LOG_FORMAT": "json",
            "RUNPLANE_LOG_LEVEL": "info",
            "RUNPLANE_OUTBOUND_ALLOW": f"127.0.0.1:{closed_port}",
        }
        server = start_server(database_url=url, env=env)
    closed = f"http://127.0.0.1:{closed_port}/hook"
    headers = {"x-api-key": key.result()}
    body = {"agent_id": "echo", "input": {}, "notify": {"webhook": closed}, "wait": 20}
    r = httpx.post(f"{server.url}/v1/runs", json=body, headers=headers, timeout=30)
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    run_id = r.json()["id"]

    about_run = wait_for_lines(server.log_path, lambda rec: rec.get("run_id") == run_id)
    server.stop()

    assert about_run[0]["tenant"] == tenant_id(url, "logs-tenant")
    assert about_run[0]["logger"] == "runplane.webhooks"
    assert about_run[0]["message"].startswith("webhook call failed (attempt 1)")
    every_line = server.log_path.read_text().splitlines()
    assert every_line, "the server wrote nothing"
    for line in every_line:
        assert isinstance(json.loads(line), dict), line


def tenant_id(database_url: str, name: str) -> str:
    """The id of the tenant of this name (what a run's log lines carry)."""

    async def read() -> str:
        db = Database(database_url)
        try:
            async with db.read() as conn:
                row = await tenants_store.get_tenant_by_name(conn, name)
        finally:
            await db.close()
        assert row is not None
        return str(row["id"])

    return asyncio.run(read())


def wait_for_lines(path: Path, wanted: Callable[[dict], bool], timeout: float = 15) -> list[dict]:
    """The JSON lines of a server's output that ``wanted`` accepts, once there is one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            rec
            for line in path.read_text().splitlines()
            if line.startswith("{") and wanted(rec := json.loads(line))
        ]
        if found:
            return found
        assert time.monotonic() < deadline, path.read_text()[-2000:]
        time.sleep(0.05)
