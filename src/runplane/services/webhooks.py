"""Calls to a run's ``notify`` webhook: when it needs approval and when it ends.

Sent in the background with a few retries; a webhook that fails is logged, never
allowed to hold up the run.
"""

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from runplane.domain.models import iso, utcnow
from runplane.services.runtime import Runtime

log = logging.getLogger("runplane.webhooks")
ATTEMPTS = 3


def send(rt: Runtime, run: Mapping[str, Any], event: str, data: dict[str, Any]) -> None:
    """Post ``{event, run_id, …}`` to the run's webhook, in the background."""
    url = (run["notify"] or {}).get("webhook")
    if not url:
        return
    body = {"event": event, "run_id": run["id"], "at": iso(utcnow()), **data}
    task = asyncio.get_running_loop().create_task(_post(url, body, run["id"]))
    rt.background_tasks.add(task)
    task.add_done_callback(rt.background_tasks.discard)


async def _post(url: str, body: dict[str, Any], run_id: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                res = await client.post(url, json=body)
                if res.status_code < 500:
                    return
            except httpx.HTTPError as exc:
                log.warning("webhook for run %s failed (attempt %d): %s", run_id, attempt, exc)
            await asyncio.sleep(0.5 * attempt)
    log.warning("webhook for run %s gave up after %d attempts", run_id, ATTEMPTS)
