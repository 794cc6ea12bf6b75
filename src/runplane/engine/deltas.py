"""``message.delta`` events: a model's text as it is written, coalesced per run."""

import time

from runplane.engine.journal import Journal

# At most this many delta events a second per model call: enough to look live, few
# enough that a fast model does not turn every token into a database write.
MAX_PER_SECOND = 20


class Deltas:
    """Collects streamed text and writes it as ``message.delta`` events, coalesced."""

    def __init__(self, journal: Journal, per_second: float = MAX_PER_SECOND) -> None:
        self._journal = journal
        self._gap = 1.0 / per_second
        self._last = 0.0
        self._pending: list[str] = []
        self._index = 0

    async def add(self, text: str) -> None:
        """Take a piece of text; emit what has gathered once the gap since the last passed."""
        if not text:
            return
        self._pending.append(text)
        if time.monotonic() - self._last >= self._gap:
            self._emit()

    async def close(self) -> None:
        """Emit what is left."""
        self._emit()

    def _emit(self) -> None:
        if not self._pending:
            return
        text, self._pending = "".join(self._pending), []
        self._journal.note(
            "message.delta",
            {"step": self._journal.current_step, "index": self._index, "text": text},
        )
        self._index += 1
        self._last = time.monotonic()
        self._journal.schedule_flush()
