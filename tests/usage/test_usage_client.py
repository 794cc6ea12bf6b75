"""The client's ``usage`` and ``budgets`` resources, against the in-process app."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from usage_agents import CALL_USAGE

from runplane import AsyncClient
from runplane.services import auth
from runplane.services.runtime import Runtime


@pytest.fixture
async def client(app: FastAPI, rt: Runtime) -> AsyncIterator[AsyncClient]:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as made:
        yield made


async def test_the_client_reads_usage_and_estimates(client: AsyncClient) -> None:
    run = await client.runs.create("metered_chat", {"model": "gpt-4o-mini"}, wait=20)
    assert run.status == "succeeded"
    assert run.usage.input_tokens == CALL_USAGE["input_tokens"]
    assert run.credits.actual is not None and run.credits.actual > 0
    totals = await client.usage.totals("model")
    assert [(i.key, i.calls) for i in totals.items] == [("gpt-4o-mini", 1)]
    assert totals.credits == pytest.approx(run.credits.actual)
    steps = await client.runs.steps(run.id)
    assert steps.items[0].usage is not None and steps.items[0].credits == totals.credits
    estimate = await client.usage.estimate("metered_chat", {})
    assert estimate.credits is None


async def test_the_client_sets_budgets_and_approves_an_overrun(client: AsyncClient) -> None:
    made = await client.budgets.set(tokens=1500, period="total")
    assert made.scope == "tenant" and made.tokens == 1500
    assert [b.scope for b in await client.budgets.list()] == ["tenant"]
    run = await client.runs.create("metered_chat", {"calls": 2})
    for _ in range(200):
        run = await client.runs.get(run.id)
        if run.status == "paused":
            break
        await asyncio.sleep(0.05)
    assert run.waiting_on is not None and run.waiting_on["kind"] == "budget"
    resumed = await client.budgets.approve(run.id, tokens=1000)
    assert resumed.budget is not None and resumed.budget.approved is not None
    ended = await client.runs.wait(run.id, timeout=20)
    assert ended.status == "succeeded"
    await client.budgets.delete()
    assert await client.budgets.list() == []
