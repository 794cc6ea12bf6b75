"""A replay's recorded tool calls: what the recorded run's tools answered, in order.

A replay (``runs.replay_of``) runs the agent again (usually another revision of it),
but its tool calls are not made: each is answered from the first unused call of the
recorded run with the same name and arguments. Model calls are made live, so that a
draft is judged on its own prompts. A call the recorded run never made is a divergence.
"""

import json
from dataclasses import dataclass, field

from runplane.domain.errors import ToolError
from runplane.domain.json import JSON, JSONObject, as_object
from runplane.domain.models import EventRecord
from runplane.store import runs as runs_store
from runplane.store.db import Database

TOOL_EVENTS = ("tool_call", "tool_result")


@dataclass(frozen=True)
class RecordedCall:
    """One tool call of the recorded run and what it gave."""

    name: str
    arguments: JSONObject
    ok: bool
    output: JSON
    error: str | None = None
    code: str | None = None
    rejected: bool = False

    def failure(self) -> ToolError:
        """The ToolError the recorded call raised, as the agent saw it."""
        if self.rejected:
            return ToolError(f"the call to {self.name} was rejected", code="tool_rejected")
        code = self.code or "tool_failed"
        if code == "tool_failed":
            return ToolError(f"{self.name} failed: {self.error}", code=code)
        message = (self.error or "").removeprefix("ToolError: ")
        return ToolError(message, code=code)


@dataclass
class Recording:
    """The recorded run's calls; each is answered once, in the order they were made."""

    run_id: str
    calls: list[RecordedCall]
    used: set[int] = field(default_factory=set)

    def take(self, name: str, arguments: JSONObject) -> RecordedCall | None:
        """The first unused recorded call with this name and these arguments (now used)."""
        wanted = _canonical(arguments)
        for index, recorded in enumerate(self.calls):
            if index in self.used or recorded.name != name:
                continue
            if _canonical(recorded.arguments) == wanted:
                self.used.add(index)
                return recorded
        return None

    def why_not(self, name: str, arguments: JSONObject) -> str:
        """Why a call has no recorded answer, for the divergence event."""
        same_name = [c for c in self.calls if c.name == name]
        if not same_name:
            return f"the recorded run {self.run_id} never called {name}"
        wanted = _canonical(arguments)
        same = [c for c in same_name if _canonical(c.arguments) == wanted]
        if not same:
            return f"the recorded run {self.run_id} called {name} with other arguments"
        times = "once" if len(same) == 1 else f"{len(same)} times"
        return f"the recorded run {self.run_id} made this call only {times}"


def recorded_calls(found: list[EventRecord]) -> list[RecordedCall]:
    """Pair a run's ``tool_call`` events with their ``tool_result`` events, in call order."""
    calls: list[tuple[str, JSONObject]] = []
    results: dict[int, JSONObject] = {}
    for event in found:
        data = as_object(event["data"])
        name = str(data.get("name"))
        if event["type"] == "tool_call":
            calls.append((name, as_object(data.get("arguments"))))
            continue
        # A result answers the earliest call of its name that has no result yet.
        for index, (called, _) in enumerate(calls):
            if called == name and index not in results:
                results[index] = data
                break
    made = []
    for index, (name, arguments) in enumerate(calls):
        result = results.get(index)
        if result is None:
            continue  # never answered (the run stopped in it): nothing to replay
        error, code = result.get("error"), result.get("code")
        made.append(
            RecordedCall(
                name=name,
                arguments=arguments,
                ok=bool(result.get("ok")),
                output=result.get("output"),
                error=str(error) if error is not None else None,
                code=str(code) if code is not None else None,
                rejected=bool(result.get("rejected")),
            )
        )
    return made


async def load_recording(db: Database, tenant_id: str, run_id: str) -> Recording:
    """The recorded run's tool calls, in one query (none if it is not the tenant's run)."""
    async with db.read() as conn:
        found = await runs_store.events_of_types(conn, tenant_id, run_id, TOOL_EVENTS)
    return Recording(run_id, recorded_calls(found))


def _canonical(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
