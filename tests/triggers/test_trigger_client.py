"""The Python client's ``triggers``: the async client, in-process (the sync one is
generated from it, and tests/client checks that they match)."""

import uuid

import httpx
import pytest
from fastapi import FastAPI

from runplane import AsyncClient
from runplane.client import RunplaneAPIError
from runplane.services import auth
from runplane.services.runtime import Runtime


async def test_the_client_makes_lists_changes_pauses_and_deletes_triggers(
    app: FastAPI, rt: Runtime
) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://runplane.test", key, transport=transport) as client:
        made = await client.triggers.create(
            "schedule", "echo", schedule="0 9 * * mon-fri", timezone="Europe/Paris", input={}
        )
        assert made.next_fire_at is not None and len(made.next_fire_times) == 5
        hook = await client.triggers.create("webhook", "echo", mapping={"message": "/text"})
        assert hook.secret and hook.hook_url == f"/v1/triggers/{hook.id}/hook"
        page = await client.triggers.list(kind="webhook")
        assert [t.id for t in page.items] == [hook.id] and page.items[0].secret is None
        changed = await client.triggers.update(made.id, input={"message": "hi"})
        assert changed.input == {"message": "hi"}
        assert (await client.triggers.pause(made.id)).paused is True
        assert (await client.triggers.resume(made.id)).next_fire_at == made.next_fire_at
        assert (await client.triggers.disable(hook.id)).enabled is False
        assert (await client.triggers.enable(hook.id)).enabled is True
        await client.triggers.delete(made.id)
        with pytest.raises(RunplaneAPIError) as caught:
            await client.triggers.get(made.id)
        assert caught.value.status_code == 404
