"""Lifecycle webhooks from the Python client (in-process) and the CLI (the live server)."""

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from runplane.cli import app as cli
from runplane.client import AsyncClient, Client
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.testing.server import create_key
from runplane.testing.webhooks import WebhookReceiver


async def test_the_python_client_manages_endpoints_and_reads_deliveries(
    app: Any, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    with WebhookReceiver() as receiver:
        monkeypatch.setattr(rt.settings, "outbound_allow", [receiver.allow_entry])
        async with AsyncClient("http://runplane.test", key, transport=transport) as client:
            made = await client.webhooks.create_endpoint(receiver.url, ["run.succeeded"])
            assert [e.id for e in (await client.webhooks.list_endpoints()).items] == [made.id]
            run = await client.runs.create("echo", input={})
            await client.runs.wait(run.id, timeout=20)
            for _ in range(100):
                page = await client.webhooks.deliveries(run_id=run.id)
                if page.items and page.items[0].status == "delivered":
                    break
                await asyncio.sleep(0.05)
            (delivery,) = page.items
            assert delivery.event == "run.succeeded" and delivery.endpoint_id == made.id
            shown = await client.webhooks.delivery(delivery.id)
            assert shown.attempts is not None and shown.attempts[0].status_code == 200
            again = await client.webhooks.redeliver(delivery.id)
            assert again.id == delivery.id
            off = await client.webhooks.update_endpoint(made.id, enabled=False)
            assert off.enabled is False
            await client.webhooks.delete_endpoint(made.id)
            assert (await client.webhooks.list_endpoints()).items == []


def test_the_cli_lists_endpoints_and_deliveries(
    live_server: Any, webhook_receiver: WebhookReceiver
) -> None:
    key = create_key(live_server.database_url, tenant=f"cli-{uuid.uuid4().hex[:8]}")
    runner = CliRunner(
        env={"RUNPLANE_URL": live_server.url, "RUNPLANE_API_KEY": key, "COLUMNS": "250"}
    )

    made = runner.invoke(
        cli, ["webhooks", "endpoints", "create", webhook_receiver.url, "-e", "run.succeeded"]
    )
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli, ["webhooks", "endpoints", "ls"])
    assert listed.exit_code == 0 and "run.succeeded" in listed.output, listed.output
    endpoint_id = next(w for w in listed.output.split() if w.startswith("whe_"))

    with Client(live_server.url, key) as client:
        run = client.runs.create("echo", input={})
        client.runs.wait(run.id, timeout=20)
        for _ in range(100):
            items = client.webhooks.deliveries(run_id=run.id).items
            if items and items[0].status == "delivered":
                break
            time.sleep(0.05)
    shown = runner.invoke(cli, ["webhooks", "deliveries", "ls", "--run", run.id])
    assert shown.exit_code == 0 and "delivered" in shown.output, shown.output
    delivery_id = next(w for w in shown.output.split() if w.startswith("msg_"))
    detail = runner.invoke(cli, ["webhooks", "deliveries", "show", delivery_id])
    assert detail.exit_code == 0 and "200" in detail.output, detail.output
    off = runner.invoke(cli, ["webhooks", "endpoints", "set", endpoint_id, "--disable"])
    assert off.exit_code == 0 and " no " in off.output, off.output
    gone = runner.invoke(cli, ["webhooks", "endpoints", "rm", endpoint_id])
    assert gone.exit_code == 0 and "deleted" in gone.output
