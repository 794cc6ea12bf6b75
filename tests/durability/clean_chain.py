"""The check every durability test ends with: the run's hash chain verifies, whole."""

from typing import Any

import httpx


def assert_chain_verifies(api: httpx.Client, run_id: str, events: list[dict[str, Any]]) -> None:
    """``/verify`` finds the chain intact over exactly these events."""
    check = api.get(f"/v1/runs/{run_id}/verify").json()
    assert check == {
        "ok": True,
        "events": len(events),
        "first_bad_seq": None,
        "deleted": False,
        "last_hash": None,
    }, check
