"""Replays: what a replay of a recorded run did differently (``engine/recording.py``)."""

from runplane.domain.json import JSONObject, as_object
from runplane.services.runtime import Runtime
from runplane.store import runs as store

DIVERGENCE = "replay.divergence"


async def divergences(rt: Runtime, tenant_id: str, run_id: str) -> list[JSONObject]:
    """The tool calls a replay made that its recorded run never made, in order (one query).

    Each is ``{"name", "arguments", "reason"}``; none for a run that is not a replay.
    """
    async with rt.db.read() as conn:
        found = await store.events_of_types(conn, tenant_id, run_id, (DIVERGENCE,))
    return [as_object(e["data"]) for e in found]
