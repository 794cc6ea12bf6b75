"""Live stream parts of graph runs, handed from the executor to the SSE listeners.

Like LangGraph's server, a listener gets what a run produces after it joins: parts
are kept only while someone listens. Here, in memory, for listeners in the process that
runs the graph; listeners in other processes get them relayed (``graphs/relay.py``).
"""

import asyncio
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

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next part or at the close; take it before reading ``parts``."""
        return self._changed

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


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
