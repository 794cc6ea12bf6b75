"""Calls to a run's ``notify`` webhook: when it needs approval and when it ends.

Sent in the background with a few retries; a webhook that fails is logged, never
allowed to hold up the run.
"""

import asyncio
import logging
from collections.abc import Mapping

import httpx

from runplane.domain.models import RunRecord, iso, utcnow

log = logging.getLogger("runplane.webhooks")
ATTEMPTS = 3


class Webhooks:
    """Posts run notifications in the background, keeping the tasks until they end."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, run: RunRecord, event: str, data: Mapping[str, object]) -> None:
        """Post ``{event, run_id, …}`` to the run's webhook, in the background."""
        url = (run["notify"] or {}).get("webhook")
        if not url:
            return
        body = {"event": event, "run_id": run["id"], "at": iso(utcnow()), **data}
        about = {"run_id": run["id"], "tenant": run["tenant_id"], "event": event}
        task = asyncio.get_running_loop().create_task(_post(url, body, about))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def _post(url: str, body: Mapping[str, object], about: dict[str, str]) -> None:
    # The URL is not logged: webhook URLs often carry a secret.
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(1, ATTEMPTS + 1):
            extra = {**about, "attempt": attempt}
            try:
                res = await client.post(url, json=body)
                if res.status_code < 500:
                    return
                log.warning(
                    "webhook answered %d (attempt %d of %d)",
                    res.status_code,
                    attempt,
                    ATTEMPTS,
                    extra=extra,
                )
            except httpx.HTTPError as exc:
                log.warning(
                    "webhook call failed (attempt %d of %d): %s: %s",
                    attempt,
                    ATTEMPTS,
                    type(exc).__name__,
                    exc,
                    extra=extra,
                )
            await asyncio.sleep(0.5 * attempt)
    log.warning("webhook gave up after %d attempts", ATTEMPTS, extra=about)
