"""Agents that start agents: ``ctx.run_agent`` as durable steps, and waking a parent.

Starting a child is a step whose output is the child's id, and the create itself is
idempotent (its key is the parent's id and the step's number): a parent replayed after
a crash, even one between the create and its record, finds the same child and never
starts a second. Waiting holds no slot: the parent pauses (``waiting_on.child_run_id``)
and the child's end resumes it (``Waits.wake_parent``); on resume the parent replays to
the wait, finds the child ended and records its outcome as a step.
"""

from runplane.domain.errors import RunError
from runplane.domain.json import JSON
from runplane.domain.lifecycle import RunStatus
from runplane.domain.models import RunRecord
from runplane.engine.journal import Journal
from runplane.engine.outcome import Suspend
from runplane.engine.ports import RunHooks
from runplane.store import runs as runs_store
from runplane.store.db import Database


class Children:
    """Starts one run's child runs and waits for their ends, through its journal."""

    def __init__(self, db: Database, journal: Journal, hooks: RunHooks, run: RunRecord) -> None:
        self.db = db
        self.journal = journal
        self.hooks = hooks
        self.run = run

    async def run_agent(self, name: str, input: JSON, wait: bool) -> JSON:
        """Start a child run of agent ``name``; with ``wait``, its result, else its id."""
        j = self.journal
        key = f"{self.run['id']}:child:{j.next_step_number()}"
        child_id = await j.step(f"run_agent:{name}", self._start, name, input, key)
        assert isinstance(child_id, str)  # the step's recorded output
        if not wait:
            return child_id
        wait_op = j.next_op()
        child = await self._read(child_id)
        if not RunStatus(child["status"]).terminal:
            # The run holds nothing while the child works; its end resumes this one.
            raise Suspend(RunStatus.PAUSED, wait_op, waiting_on={"child_run_id": child_id})
        return await j.step(f"result:{name}", self._outcome, child_id)

    async def _start(self, name: str, input: JSON, key: str) -> str:
        return await self.hooks.start_child(self.run, name, input, key)

    async def _read(self, child_id: str) -> RunRecord:
        async with self.db.read() as conn:
            child = await runs_store.get_run(conn, self.run["tenant_id"], child_id)
        if child is None:
            raise RunError(f"the child run {child_id} is gone", code="child_run_missing")
        return child

    async def _outcome(self, child_id: str) -> JSON:
        """The ended child's ``result.content``; a failed or canceled child raises."""
        child = await self._read(child_id)
        status = RunStatus(child["status"])
        if status == RunStatus.SUCCEEDED:
            result = child["result"]
            return result.get("content") if result else None
        error = child["error"]
        if status == RunStatus.FAILED and error:
            raise RunError(
                f"child run {child_id} failed: {error.get('message')}",
                code=str(error.get("code") or "child_failed"),
                retryable=bool(error.get("retryable")),
            )
        raise RunError(f"child run {child_id} was {status}", code=str(status))
