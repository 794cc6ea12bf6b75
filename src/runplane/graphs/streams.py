"""Live stream parts of graph runs, handed from the executor to the SSE listeners.

Like LangGraph's server, a listener gets what a run produces after it joins: parts
are kept only while someone listens, and only in the process that runs the graph.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

Part = tuple[int, str, Any]


class RunStream:
    """The parts of one run, for the listeners that joined it."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.closed = False
        self.listeners = 0
        self._changed = asyncio.Event()

    def put(self, event: str, data: Any) -> None:
        """Add a part and wake the listeners."""
        self.parts.append((len(self.parts) + 1, event, data))
        self._wake()

    def close(self) -> None:
        """No more parts will come."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self, poll: float, ended: Any) -> AsyncIterator[Part]:
        """Yield parts as they come until the stream closes (or ``ended()`` says so)."""
        seen = 0
        while True:
            changed = self._changed
            while seen < len(self.parts):
                seen += 1
                yield self.parts[seen - 1]
            if self.closed:
                return
            try:
                await asyncio.wait_for(changed.wait(), poll)
            except TimeoutError:
                if await ended():
                    # Parts written before the run ended are in already.
                    while seen < len(self.parts):
                        seen += 1
                        yield self.parts[seen - 1]
                    return


class Streams:
    """Every run being listened to in this process."""

    def __init__(self) -> None:
        self._runs: dict[str, RunStream] = {}

    def listen(self, run_id: str) -> RunStream:
        """Join a run's stream (create it if the run has not started)."""
        stream = self._runs.get(run_id)
        if stream is None or stream.closed:
            stream = self._runs[run_id] = RunStream()
        stream.listeners += 1
        return stream

    def leave(self, run_id: str, stream: RunStream) -> None:
        """A listener is gone; forget the stream when nobody listens."""
        stream.listeners -= 1
        if stream.listeners <= 0 and self._runs.get(run_id) is stream:
            del self._runs[run_id]

    def finish(self, run_id: str) -> None:
        """The run's attempt is over (its end is committed): listeners stop."""
        stream = self._runs.get(run_id)
        if stream is not None:
            stream.close()

    def of(self, run_id: str) -> RunStream | None:
        """The stream of a run someone listens to, else None (nothing to produce)."""
        return self._runs.get(run_id)
