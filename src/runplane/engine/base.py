"""The engine interface: durable execution of runs, whatever library provides it."""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

Execute = Callable[[str], Awaitable[str]]


class Engine(ABC):
    """Starts runs durably and brings them back after a crash.

    The engine knows nothing of agents: it calls ``execute(run_id)`` (given to
    ``start``), at least once per run, until that call returns.
    """

    executor_id: str

    @abstractmethod
    async def start(self, execute: Execute) -> None:
        """Launch, and recover this executor's unfinished runs."""

    @abstractmethod
    async def stop(self) -> None:
        """Shut down; unfinished runs stay recoverable."""

    @abstractmethod
    async def submit(self, run_id: str, *, here: bool, segment: int = 0) -> None:
        """Make the run's execution durable: start it in this process or queue it.

        A run that waited for a person resumes as a new ``segment`` of its execution.
        """

    @abstractmethod
    async def resubmit_if_lost(self, run_id: str, segment: int = 0) -> bool:
        """Queue a run (segment) the engine has no record of (a crash between two writes)."""

    @abstractmethod
    async def discard(self, run_id: str) -> None:
        """Drop a run that never started (canceled while queued)."""

    @abstractmethod
    async def take_over(self, executor_id: str) -> int:
        """Restart the unfinished runs of a dead executor; return how many."""
