"""Caps on event streams: how many one API key holds open, and for how long each stays open.

A stream is a held connection and a loop that reads the database, so a key that opens
thousands of them (say, one per paused run, forever) costs every tenant. The count is
kept per process: with ``--processes N`` a key may hold up to N times the cap.
"""

from dataclasses import dataclass, field

from runplane.domain.errors import TooManyRequests

# What a key over its stream cap is told to wait: about as long as a client's reconnect.
STREAMS_FULL_RETRY_SECONDS = 5.0


@dataclass
class StreamLimits:
    """Open streams per API key in this process; the cap and the longest a stream lasts."""

    max_per_key: int
    max_seconds: float
    _open: dict[str, int] = field(default_factory=dict)

    def take(self, key_id: str) -> None:
        """Count a new stream of this key, or raise TooManyRequests (429) if it has too many."""
        self.check(key_id)
        self._open[key_id] = self._open.get(key_id, 0) + 1

    def check(self, key_id: str) -> None:
        """Raise TooManyRequests (429) if the key holds as many streams as it may."""
        if self._open.get(key_id, 0) >= self.max_per_key:
            raise TooManyRequests(
                f"too many open event streams: a key may hold {self.max_per_key} at once; "
                "close one, or try again later",
                retry_after=STREAMS_FULL_RETRY_SECONDS,
                details=[{"name": "sse_max_per_key", "value": self.max_per_key}],
            )

    def give_back(self, key_id: str) -> None:
        """A stream of this key has closed."""
        held = self._open.get(key_id, 0) - 1
        if held > 0:
            self._open[key_id] = held
        else:
            self._open.pop(key_id, None)

    def open_for(self, key_id: str) -> int:
        """How many streams the key holds open here now."""
        return self._open.get(key_id, 0)

    def total(self) -> int:
        """How many streams all keys hold open here now (``/metrics``)."""
        return sum(self._open.values())
