"""The engine interface: durable execution of runs, whatever library provides it."""

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

Execute = Callable[[str], Awaitable[str]]
# The statuses of a workflow that will still run (the rest have ended).
LIVE = frozenset({"PENDING", "ENQUEUED", "DELAYED"})


def workflow_id(run_id: str, segment: int) -> str:
    """The workflow of a run's segment: the run id, then ``run_….1``, ``.2`` after waits.

    A waiting run's workflow has ended (so it holds nothing); resuming starts the next,
    and so does the reconciler, when a run's workflow ended before the run did.
    """
    return run_id if segment == 0 else f"{run_id}.{segment}"


@dataclass(frozen=True)
class WorkflowState:
    """What the engine records of the workflow of one segment of a run."""

    workflow_id: str
    status: str  # the engine's word: PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, ...
    executor_id: str | None
    updated_at: datetime | None

    @property
    def ended(self) -> bool:
        """Whether the workflow has stopped for good (whatever became of its run)."""
        return self.status not in LIVE


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
    async def submit(
        self, run_id: str, *, here: bool, segment: int = 0, priority: int | None = None
    ) -> None:
        """Make the run's execution durable: start it in this process or queue it.

        A run that waited for a person resumes as a new ``segment`` of its execution.
        A queued run with a lower ``priority`` starts first (None: before any).
        """

    @abstractmethod
    async def workflows(self, segments: Sequence[tuple[str, int]]) -> dict[str, WorkflowState]:
        """The workflows of the given (run id, segment) pairs, by run id; unknown ones left out."""

    @abstractmethod
    def running_here(self, run_id: str, segment: int) -> bool:
        """Whether this process executes the workflow now (or has claimed it to)."""

    @abstractmethod
    async def resume(self, run_id: str, segment: int) -> None:
        """Queue again a started workflow that no live process runs (its executor is gone)."""

    @abstractmethod
    async def discard(self, run_id: str) -> None:
        """Drop a run that never started (canceled while queued)."""

    @abstractmethod
    async def take_over(self, executor_id: str) -> int:
        """Restart the unfinished runs of a dead executor; return how many."""

    @abstractmethod
    def stop_taking(self) -> None:
        """Dequeue no more runs in this process (a drain); queued ones wait for others."""

    @abstractmethod
    def wake(self) -> None:
        """Runs may be waiting in the queue: look for them soon."""

    def slot_freed(self) -> None:
        """A run here ended: look in the queue soon if runs may be waiting there."""
        self.wake()
