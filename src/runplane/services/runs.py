"""Run use cases: create, read, list, cancel, rerun, duplicate, archive, delete, verify."""

import asyncio
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, cast

from runplane.agents import steps as step_agents
from runplane.domain.errors import (
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    RunError,
    RunplaneError,
    ServiceUnavailable,
    TooManyRequests,
)
from runplane.domain.events import ChainCheck, ChainLink, verify_chain
from runplane.domain.ids import new_id
from runplane.domain.json import JSON, JSONObject, as_list
from runplane.domain.lifecycle import TERMINAL, RunStatus
from runplane.domain.liveness import LIVENESS
from runplane.domain.models import EventRecord, Principal, RunRecord, StepRow, iso, utcnow
from runplane.domain.policy import check_rules
from runplane.domain.roles import Permission
from runplane.engine import tracing
from runplane.engine.hub import Signal
from runplane.schemas import RunCreate
from runplane.services import agents as agents_svc
from runplane.services import audit
from runplane.services import files as files_svc
from runplane.services import splits as splits_svc
from runplane.services.estimates import estimate
from runplane.services.runtime import Runtime
from runplane.services.webhooks import check_webhook
from runplane.store import customer_integrations, tombstones
from runplane.store import files as files_store
from runplane.store import runs as store
from runplane.store import webhook_deliveries as deliveries_store
from runplane.store.db import Conn
from runplane.store.liveness import LivenessFilter

if TYPE_CHECKING:
    import jsonschema

POLL_SECONDS = 0.25
# How long a stream of a run that waits for a person sleeps between looks at the
# database when nothing wakes it: its next event comes from a decision, which wakes the
# hub in this process (and, through LISTEN/NOTIFY, in every process on Postgres).
IDLE_POLL_SECONDS = 5.0
_IDLE = {str(RunStatus.PAUSED), str(RunStatus.AUTH_REQUIRED)}
_TERMINAL = {str(s) for s in TERMINAL}
# What a 410 about a deleted run says of it (the whole tombstone: /v1/governance/tombstones).
TOMBSTONE_SUMMARY = (
    "run_id",
    "agent_id",
    "status",
    "created_at",
    "finished_at",
    "policy_version",
    "last_seq",
    "last_hash",
    "deleted_at",
    "deleted_by",
    "reason",
)


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> "jsonschema.Draft202012Validator":
    import jsonschema  # loaded by the first agent with an input schema

    return jsonschema.Draft202012Validator(json.loads(schema_json))


def validate_input(schema: JSON, value: JSON) -> None:
    """Check a run's input against its agent's schema; 422 naming the field."""
    if schema is None:
        return
    validator = _validator(json.dumps(schema, sort_keys=True))
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(value))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        name = f"input.{path}" if path else "input"
        raise Invalid(f"{name}: {error.message}", [{"name": name, "value": error.instance}])


async def create_run(
    rt: Runtime,
    who: Principal,
    body: RunCreate,
    *,
    idempotency_key: str | None = None,
    rerun_of: str | None = None,
    from_step: int | None = None,
    run_id: str | None = None,
    extra: Mapping[str, object] | None = None,
    wait_until: frozenset[str] = frozenset(),
    not_before: datetime | None = None,
    action: str = "run.created",
    activity: JSONObject | None = None,
    replay_of: str | None = None,
) -> RunRecord:
    """Validate, record and start a run; with ``body.wait``, hold until it ends.

    ``extra`` sets more columns (a graph run's thread and options); ``action`` and
    ``activity`` are what the activity log says of it (a rerun, a duplicate). A run
    whose tenant has its queue full is refused (429); one over its running quota, or
    scheduled for ``not_before``, is recorded and starts when admitted
    (``engine/admission.py``). ``replay_of`` makes the run a replay of that recorded run
    (``engine/recording.py``): it reads the recorded run's files unless told otherwise.
    A run that names no revision of an agent with an A/B split goes to one of the two.
    """
    who.require(Permission.CREATE_RUNS)
    if not body.agent_id:
        raise Invalid.field("agent_id", "agent_id is required")
    check_webhook(rt.settings, "notify.webhook", body.notify.webhook if body.notify else None)
    user_id = run_user(who, body.user_id)
    if replay_of is not None:
        body = await _replay_body(rt, who, body, replay_of)
    agent = await agents_svc.agent_for_run(rt, who, body.agent_id or "")
    run_id = run_id or new_id("run")
    chosen = body.revision_id or splits_svc.split_revision(agent, run_id)
    revision = await agents_svc.resolve_revision(rt, agent, chosen)
    config = revision["config"]
    validate_input(config.get("input_schema"), body.input)
    known = await rt.hooks.models.knows(who.tenant_id) if agent["kind"] == "steps" else None
    model = _model_settings(agent["kind"], config, body, known)
    if (
        body.integrations in ("*", ["*"])
        and config.get("integrations") != "*"
        and not who.can(Permission.WIDEN_INTEGRATIONS)
    ):
        raise Forbidden(
            f"a {who.role} key may not widen a run's integrations to every one ('*'): "
            "name the integrations, or leave them to the agent",
            [{"name": "integrations", "value": "*"}],
        )
    integrations = await _integrations(rt, who, body.integrations, config.get("integrations"))
    file_ids, site_ids = await files_svc.check_run_inputs(rt, who, body.file_ids, body.site_ids)
    rules = check_rules([r.model_dump(exclude_none=True) for r in body.approval_rules or []])
    request_hash = _request_hash(body) if idempotency_key else ""
    if idempotency_key:
        existing = await _idempotent_run(rt, who, idempotency_key, request_hash)
        if existing is not None:
            return await _maybe_wait(rt, who, existing, body.wait)
    if body.parent_run_id is not None:
        await get_run(rt, who, body.parent_run_id, field="parent_run_id")
    estimated = await estimate(rt, who.tenant_id, config, body)
    now = utcnow()
    ticket = await rt.worker.admission.ticket(who.tenant_id, now, not_before)
    row: dict[str, object] = {
        "id": run_id,
        "tenant_id": who.tenant_id,
        "agent_id": agent["id"],
        "agent_name": agent["name"],
        "revision_id": revision["id"],
        "name": body.name,
        "status": RunStatus.QUEUED,
        "trigger": body.trigger,
        "input": body.input,
        "variables": body.variables,
        "context": body.context,
        "user_id": user_id,
        "metadata": body.metadata,
        "model": model,
        "timeout_seconds": body.timeout_seconds
        or revision["config"].get("timeout_seconds")
        or 3600.0,
        "parent_run_id": body.parent_run_id,
        "integrations": integrations,
        "approval": body.approval,
        "approval_rules": _merge_rules(as_list(config.get("approval_rules")), rules),
        "approval_expiry": body.approval_expiry.model_dump() if body.approval_expiry else None,
        "notify": body.notify.model_dump(exclude_none=True) if body.notify else None,
        "file_ids": file_ids,
        "site_ids": site_ids,
        "rerun_of": rerun_of,
        "from_step": from_step,
        "replay_of": replay_of,
        "created_by_key_id": who.key_id,
        "admitted_at": ticket.admitted_at,
        "not_before": not_before,
        "credits_estimated": estimated["credits"],
        # The request's trace, so the run's spans join it wherever the run executes.
        "traceparent": tracing.traceparent(),
        "budget": body.budget.model_dump(exclude_none=True) if body.budget else None,
        "created_at": now,
        "updated_at": now,
        **(extra or {}),
    }
    deliveries = await rt.hooks.lifecycle(cast(RunRecord, row), [(RunStatus.QUEUED, 1)])
    actor, noted = _creator(who, cast(RunRecord, row), activity)
    try:
        async with rt.db.write() as conn:
            # The key first: a repeat sent while the first is still on its way (a client
            # that timed out and retried) waits here for it, then finds its run.
            if idempotency_key and not await store.remember_idempotent(
                conn, who.tenant_id, idempotency_key, request_hash, run_id, now
            ):
                raise _KeyTaken
            stored = await store.insert_run(conn, row)
            await deliveries_store.insert_many(conn, deliveries)
            await audit.record(conn, actor, action, "run", run_id, noted)
            if rerun_of is not None and from_step is not None:
                await store.copy_steps(conn, rerun_of, run_id, from_step)
                await files_store.copy_to_rerun(conn, who.tenant_id, rerun_of, run_id, from_step)
    except _KeyTaken:
        assert idempotency_key is not None
        existing = await _idempotent_run(rt, who, idempotency_key, request_hash)
        if existing is None:  # its run was deleted in between
            raise Conflict(
                "the run this Idempotency-Key created is gone",
                [{"name": "Idempotency-Key", "value": idempotency_key}],
            ) from None
        return await _maybe_wait(rt, who, existing, body.wait)
    if deliveries:
        rt.hooks.delivered_soon()
    # Taken before the run can start, so that no change goes unseen.
    signal = rt.hub.signal(run_id)
    await rt.worker.submit(run_id, row=stored, priority=ticket.priority)
    if body.wait:
        return await wait_for_run(rt, who, run_id, body.wait, signal=signal, until=wait_until)
    if body.approval == "ON_START" or config.get("plans_first"):
        return await _wait_for_plan(rt, who, run_id, rt.settings.plan_wait_seconds)
    return await get_run(rt, who, run_id)


async def _replay_body(rt: Runtime, who: Principal, body: RunCreate, replay_of: str) -> RunCreate:
    """A replay's request: the recorded run's files, sites and integrations unless it names them."""
    async with rt.db.read() as conn:
        recorded = await store.get_run(conn, who.tenant_id, replay_of)
    if recorded is None:
        raise NotFound(
            f"no run {replay_of!r} to replay", [{"name": "replay_of", "value": replay_of}]
        )
    update: dict[str, object] = {}
    if body.file_ids is None and recorded["file_ids"]:
        update["file_ids"] = recorded["file_ids"]
    if body.site_ids is None and recorded["site_ids"]:
        update["site_ids"] = recorded["site_ids"]
    if body.integrations is None and recorded["integrations"] is not None:
        update["integrations"] = recorded["integrations"]
    return body.model_copy(update=update) if update else body


def _creator(
    who: Principal, row: RunRecord, activity: JSONObject | None
) -> tuple[Principal, JSONObject]:
    """Who created a run (an agent acts as its run) and what the activity log says of it."""
    data: JSONObject = {"trigger": row["trigger"], "agent_id": row["agent_id"], **(activity or {})}
    if who.via == "agent" and row["parent_run_id"] is not None:
        # A child run is the parent run's doing; the key it acts under is kept beside it.
        data["on_behalf_of_key_id"] = who.key_id
        who = replace(who, key_id=f"run:{row['parent_run_id']}")
    trigger_id = row.get("trigger_id")
    if trigger_id is not None:
        data["trigger_id"] = trigger_id
    return who, data


async def start_child(rt: Runtime, parent: RunRecord, agent: str, input: JSON, key: str) -> str:
    """Start (or find, by the idempotency ``key``) a run of ``agent`` that ``parent`` asked for.

    The child runs as the parent's starter would (its tenant, user and key, a member's
    rights), records ``trigger="agent"`` and ``parent_run_id``; the agent's own defaults
    (integrations, approvals) apply. A refusal fails the parent's step with its code.
    """
    who = Principal(
        tenant_id=parent["tenant_id"],
        key_id=parent["created_by_key_id"] or f"run:{parent['id']}",
        role="member",
        user_id=parent["user_id"],
        via="agent",
    )
    body = RunCreate(
        agent_id=agent,
        input=input,
        user_id=parent["user_id"],
        trigger="agent",
        parent_run_id=parent["id"],
        metadata={"parent_run_id": parent["id"]},
    )
    try:
        child = await create_run(rt, who, body, idempotency_key=key)
    except RunplaneError as exc:
        raise RunError(
            f"could not start a run of agent {agent!r}: {exc.message}",
            code=exc.code,
            retryable=isinstance(exc, TooManyRequests | ServiceUnavailable),
        ) from exc
    return child["id"]


async def list_children(rt: Runtime, who: Principal, run_id: str) -> list[RunRecord]:
    """The runs this run started (``ctx.run_agent``), oldest first."""
    async with rt.db.read() as conn:
        return await store.children_of(conn, who.tenant_id, run_id)


async def cancel_children(rt: Runtime, run: RunRecord) -> None:
    """Cancel the runs ``run`` started that have not ended (and theirs, in turn)."""
    async with rt.db.read() as conn:
        children = await store.children_of(conn, run["tenant_id"], run["id"], active=True)
    for child in children:
        try:
            await rt.worker.cancel(child)
        except Conflict:
            pass  # it ended meanwhile
        await cancel_children(rt, child)


def _model_settings(
    kind: str,
    config: Mapping[str, object],
    body: RunCreate,
    known: Callable[[str], bool] | None = None,
) -> JSONObject | None:
    """A run's model settings as stored; a step agent's also hold its per-step overrides.

    A step agent's variables must be ones it declares, of their types; the models named
    must be known (422 otherwise).
    """
    model: JSONObject | None = body.model.model_dump(exclude_none=True) if body.model else None
    if kind != "steps":
        if body.step_overrides:
            raise Invalid.field(
                "step_overrides", "only step agents (kind 'steps') have steps to override"
            )
        return model
    step_agents.check_run_variables(config, body.variables)
    if model is not None and model.get("name") is not None:
        if not (known or step_agents.known_model)(str(model["name"])):
            raise Invalid.field("model.name", f"unknown model {model['name']!r}", model["name"])
    if body.step_overrides:
        overrides = step_agents.check_step_overrides(
            config, body.step_overrides, known or step_agents.known_model
        )
        model = {**(model or {}), "steps": overrides}
    return model


class _KeyTaken(Exception):
    """Another request recorded this Idempotency-Key first: roll this create back."""


def run_user(who: Principal, asked: str | None) -> str | None:
    """The user a new run acts as: the one asked, else the key's own.

    Acting as another user (whose connections its tools would use) takes ACT_AS_USER.
    """
    if asked is None:
        return who.user_id
    if asked != who.user_id and not who.can(Permission.ACT_AS_USER):
        bound = f"bound to {who.user_id!r}" if who.user_id else "bound to no user"
        raise Forbidden(
            f"a {who.role} key {bound} may not start runs as user {asked!r}",
            [{"name": "user_id", "value": asked}],
        )
    return asked


def _merge_rules(agent_rules: Sequence[object], run_rules: Sequence[object]) -> list[object]:
    return [*(r for r in agent_rules if r not in run_rules), *run_rules]


async def _integrations(
    rt: Runtime, who: Principal, asked: list[str] | str | None, declared: JSON
) -> list[str] | str:
    """The run's allow-list of catalog names: what it asked for, else what its agent declares.

    Each entry is the id of one of the tenant's installed customer integrations (it must
    be active) or a catalog integration's name. ``"*"`` is every active installed one when
    the tenant installed any, else the whole catalog (a self-hosted server's default).
    """
    chosen: object = asked if asked is not None else (declared if declared is not None else [])
    everything = chosen == "*" or chosen == ["*"]
    known = rt.project.integrations
    names = (
        [] if everything else [str(n) for n in (chosen if isinstance(chosen, list) else [chosen])]
    )
    if not everything and all(n in known for n in names):
        return list(dict.fromkeys(names))  # catalog names only: no installation to read
    async with rt.db.read() as conn:
        installed = await customer_integrations.list_for_tenant(conn, who.tenant_id)
    if everything:
        if not installed:
            return "*"
        return list(dict.fromkeys(i["integration"] for i in installed if i["active"]))
    by_id = {i["id"]: i for i in installed}
    resolved = []
    for name in names:
        found = by_id.get(name)
        if found is not None:
            if not found["active"]:
                raise Invalid.field(
                    "integrations", f"customer integration {name!r} is not active", name
                )
            resolved.append(found["integration"])
        elif name in known:
            resolved.append(name)
        else:
            ids = ", ".join(by_id) or "none"
            raise Invalid.field(
                "integrations",
                f"unknown integration {name!r} (installed customer integrations: {ids}; "
                f"catalog: {', '.join(sorted(known))})",
                name,
            )
    return list(dict.fromkeys(resolved))


# How long a run whose plan is recorded may take to pause for that plan's approval.
PLAN_PAUSE_GRACE_SECONDS = 3.0


async def _wait_for_plan(rt: Runtime, who: Principal, run_id: str, timeout: float) -> RunRecord:
    """The run once it has recorded its plan (or stopped running), within ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    graced = False
    while True:
        signal = rt.hub.signal(run_id)
        row = await get_run(rt, who, run_id)
        settled = row["status"] not in (RunStatus.QUEUED, RunStatus.RUNNING)
        remaining = deadline - loop.time()
        if settled or remaining <= 0:
            return row
        if row["plan"] is not None:
            if row["approval"] != "ON_START":
                return row
            if not graced:
                # The plan can be written a moment before the run pauses for its approval:
                # answer with the pause (and its approval), a rerun's approved plan aside.
                graced = True
                deadline = min(deadline, loop.time() + PLAN_PAUSE_GRACE_SECONDS)
        await rt.hub.wait(signal, min(max(deadline - loop.time(), 0.0), POLL_SECONDS))


def _request_hash(body: RunCreate) -> str:
    data = body.model_dump(mode="json", exclude={"wait"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


async def _idempotent_run(rt: Runtime, who: Principal, key: str, request_hash: str) -> str | None:
    async with rt.db.read() as conn:
        hit = await store.find_idempotent(conn, who.tenant_id, key)
    if hit is None:
        return None
    if hit["request_hash"] != request_hash:
        raise Conflict(
            "this Idempotency-Key was used with a different request",
            [{"name": "Idempotency-Key", "value": key}],
        )
    return str(hit["run_id"])


async def _maybe_wait(rt: Runtime, who: Principal, run_id: str, wait: float | None) -> RunRecord:
    if wait:
        return await wait_for_run(rt, who, run_id, wait)
    return await get_run(rt, who, run_id)


async def get_run(rt: Runtime, who: Principal, run_id: str, field: str = "run_id") -> RunRecord:
    """One run of the tenant, or NotFound."""
    async with rt.db.read() as conn:
        row = await store.get_run(conn, who.tenant_id, run_id)
        tomb = None if row is not None else await tombstones.get(conn, who.tenant_id, run_id)
    if tomb is not None:
        raise gone(tomb, field)
    if row is None:
        raise NotFound(f"no run {run_id!r}", [{"name": field, "value": run_id}])
    return row


def gone(tomb: Mapping[str, object], field: str = "run_id") -> Gone:
    """The answer about a deleted run: when, by whom, why, and its tombstone's summary."""
    summary = {
        k: iso(v) if isinstance(v, datetime) else v
        for k, v in ((k, tomb[k]) for k in TOMBSTONE_SUMMARY)
    }
    return Gone(
        f"run {tomb['run_id']} was deleted at {iso(cast(datetime, tomb['deleted_at']))} by"
        f" {tomb['deleted_by']}: {tomb['reason']}",
        [{"name": field, "value": tomb["run_id"]}, {"name": "tombstone", "value": summary}],
    )


async def wait_for_run(
    rt: Runtime,
    who: Principal,
    run_id: str,
    timeout: float,
    signal: Signal | None = None,
    until: frozenset[str] = frozenset(),
) -> RunRecord:
    """The run once it ends (or reaches a status in ``until``), or after ``timeout`` s.

    With the ``signal`` taken before the run was submitted, the first read waits for a
    change; the run is read again only when it may have ended.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if signal is None:
            signal = rt.hub.signal(run_id)
            row = await get_run(rt, who, run_id)
            if row["status"] in _TERMINAL or row["status"] in until:
                return row
        remaining = deadline - loop.time()
        if remaining <= 0:
            return await get_run(rt, who, run_id)
        await rt.hub.wait(signal, min(remaining, POLL_SECONDS))
        if not signal.is_set() and rt.worker.runs_here(run_id):
            continue  # its writer is in this process and will wake us: no need to look
        ended = signal.row
        if ended is not None and ended["tenant_id"] == who.tenant_id:
            return ended
        if signal.is_set() and signal.status in until:
            signal = None  # read the run: it reached a status the caller stops at
            continue
        signal = signal.next if signal.going else None


async def list_runs(
    rt: Runtime,
    who: Principal,
    *,
    agent_id: str | None,
    status: str | None,
    q: str | None,
    archived: bool | None,
    trigger: str | None,
    parent_run_id: str | None,
    limit: int,
    continuation_token: str | None,
    user_id: str | None = None,
    trigger_id: str | None = None,
    liveness: str | None = None,
) -> tuple[list[RunRecord], str | None]:
    """A page of the tenant's runs, newest first; ``user_id`` keeps the runs acting as one.

    ``liveness`` keeps the running runs that are ``working``, ``stalled`` or ``lost``.
    """
    filters: dict[str, object] = {"archived": bool(archived)}
    alive = _liveness_filter(rt, liveness) if liveness else None
    if agent_id:
        filters["agent_id"] = (await agents_svc.find_agent(rt, who, agent_id))["id"]
    if status:
        try:
            filters["status"] = str(RunStatus(status))
        except ValueError as exc:
            raise Invalid.field("status", f"unknown status {status!r}", status) from exc
    if trigger:
        filters["trigger"] = trigger
    if parent_run_id:
        filters["parent_run_id"] = parent_run_id
    if user_id:
        filters["user_id"] = user_id
    if trigger_id:
        filters["trigger_id"] = trigger_id
    after = store.decode_token(continuation_token) if continuation_token else None
    async with rt.db.read() as conn:
        rows = await store.list_runs(
            conn, who.tenant_id, filters=filters, q=q, limit=limit, after=after, liveness=alive
        )
    return store.page_of(rows, limit)


def _liveness_filter(rt: Runtime, liveness: str) -> LivenessFilter:
    """The list's liveness filter, under the server's limits; 422 for an unknown liveness."""
    if liveness not in LIVENESS:
        raise Invalid.field(
            "liveness", f"unknown liveness {liveness!r}: one of {', '.join(LIVENESS)}", liveness
        )
    s = rt.settings
    return LivenessFilter(liveness, utcnow(), s.executor_dead_after, s.run_stalled_after)


async def list_steps(rt: Runtime, who: Principal, run_id: str) -> list[StepRow]:
    """A run's steps."""
    await get_run(rt, who, run_id)
    async with rt.db.read() as conn:
        return await store.list_steps(conn, run_id)


async def steps_of(rt: Runtime, runs: Sequence[RunRecord]) -> dict[str, list[StepRow]]:
    """The steps of runs already read for their tenant, by run id, in one query."""
    async with rt.db.read() as conn:
        rows = await store.list_steps_of(conn, [r["id"] for r in runs])
    found: dict[str, list[StepRow]] = {r["id"]: [] for r in runs}
    for row in rows:
        found[row["run_id"]].append(row)
    return found


async def list_events(
    rt: Runtime, who: Principal, run_id: str, after: int, limit: int
) -> tuple[list[EventRecord], str | None]:
    """A page of a run's events after ``after``."""
    await get_run(rt, who, run_id)
    async with rt.db.read() as conn:
        rows = await store.list_events(conn, run_id, after, limit + 1)
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(rows[-1]["seq"])
    return rows, None


async def follow_events(
    rt: Runtime, who: Principal, run_id: str, after: int
) -> AsyncIterator[EventRecord | None]:
    """A run's events after ``after``, then new ones as they come, until the run ends.

    Yields None each time it waited in vain, so a stream can send keep-alives.
    """
    # A run that had ended when asked has all its events written: send them and stop
    # (a reader that resumes after the last one gets an empty, closed stream).
    status = (await get_run(rt, who, run_id))["status"]
    ended = status in _TERMINAL
    while True:
        signal = rt.hub.signal(run_id)
        async with rt.db.read() as conn:
            rows = await store.list_events(conn, run_id, after, 500)
        for row in rows:
            after = row["seq"]
            yield row
            if row["type"] == "status":
                status = str(row["data"].get("status"))
                if status in _TERMINAL:
                    return
        if not rows:
            if ended:
                return
            await rt.hub.wait(signal, IDLE_POLL_SECONDS if status in _IDLE else POLL_SECONDS)
            yield None


async def cancel_run(rt: Runtime, who: Principal, run_id: str) -> RunRecord:
    """Ask a run to stop; a queued run ends at once, a running one at its next await."""
    who.require(Permission.CANCEL_RUNS)
    run = await get_run(rt, who, run_id)
    status = RunStatus(run["status"])
    if status.terminal:
        raise Conflict(
            f"run {run_id} already ended ({status})", [{"name": "status", "value": status}]
        )

    async def noted(conn: Conn) -> None:
        await audit.record(conn, who, "run.cancel_requested", "run", run_id)

    await rt.worker.cancel(run, also=noted)
    # A parent's children stop with it (a waiting parent ends at once, so nobody else would).
    await cancel_children(rt, run)
    return await get_run(rt, who, run_id)


async def rerun(
    rt: Runtime,
    who: Principal,
    run_id: str,
    from_step: int | None,
    wait: float | None,
    *,
    idempotency_key: str | None = None,
) -> RunRecord:
    """A new run with the same configuration; steps before ``from_step`` are reused."""
    run = await get_run(rt, who, run_id)
    if from_step is not None and from_step > run["step_count"] + 1:
        raise Invalid.field("from_step", f"run {run_id} has {run['step_count']} steps", from_step)
    body = _body_from(run, wait=wait)
    return await create_run(
        rt,
        who,
        body,
        rerun_of=run_id,
        from_step=from_step,
        idempotency_key=idempotency_key,
        action="run.rerun",
        activity={"rerun_of": run_id, "from_step": from_step},
    )


async def duplicate(
    rt: Runtime,
    who: Principal,
    run_id: str,
    overrides: dict[str, object],
    *,
    idempotency_key: str | None = None,
) -> RunRecord:
    """A new run from this one's configuration, with overrides."""
    run = await get_run(rt, who, run_id)
    wait = overrides.pop("wait", None)
    body = _body_from(run, wait=float(wait) if isinstance(wait, int | float) else None)
    for key, value in overrides.items():
        if value is not None:
            setattr(body, key, value)
    return await create_run(
        rt,
        who,
        body,
        idempotency_key=idempotency_key,
        action="run.duplicated",
        activity={
            "duplicate_of": run_id,
            "overrides": [k for k in sorted(overrides) if overrides[k] is not None],
        },
    )


_COPIED = (
    "agent_id",
    "name",
    "input",
    "variables",
    "context",
    "user_id",
    "metadata",
    "model",
    "timeout_seconds",
    "parent_run_id",
    "trigger",
    "integrations",
    "approval",
    "approval_rules",
    "approval_expiry",
    "notify",
    "file_ids",
    "site_ids",
)


def _body_from(run: RunRecord, wait: float | None) -> RunCreate:
    """The creation request of a run with this one's configuration."""
    columns: dict[str, object] = dict(run)
    body = {k: columns[k] for k in _COPIED}
    model = run["model"]
    if model is not None and "steps" in model:
        # A step agent's run keeps its per-step overrides with its model settings.
        body["step_overrides"] = model["steps"]
        body["model"] = {k: v for k, v in model.items() if k != "steps"} or None
    # Its budget, but not the overruns approved for it: they were approved for that run.
    body["budget"] = {k: v for k, v in (run["budget"] or {}).items() if k != "approved"} or None
    return RunCreate.model_validate({**body, "wait": wait})


async def set_archived(rt: Runtime, who: Principal, run_id: str, archived: bool) -> RunRecord:
    """Archive or unarchive a run (it stays readable either way)."""
    who.require(Permission.CREATE_RUNS)
    await get_run(rt, who, run_id)
    async with rt.db.write() as conn:
        await store.update_run(conn, run_id, archived=archived, updated_at=utcnow())
        action = "run.archived" if archived else "run.unarchived"
        await audit.record(conn, who, action, "run", run_id)
    return await get_run(rt, who, run_id)


async def verify(rt: Runtime, who: Principal, run_id: str) -> ChainCheck:
    """Check the run's hash-chained event log; a deleted run's from its tombstone."""
    async with rt.db.read() as conn:
        tomb = await tombstones.get(conn, who.tenant_id, run_id)
    if tomb is not None:
        return ChainCheck(True, tomb["last_seq"], None, deleted=True, last_hash=tomb["last_hash"])
    run = await get_run(rt, who, run_id)
    async with rt.db.read() as conn:
        rows = await store.list_events(conn, run_id)
    return verify_chain(run_id, chain_links(rows), head=(run["last_seq"], run["last_hash"]))


def chain_links(rows: list[EventRecord]) -> list[ChainLink]:
    """Events as their hashes cover them (what ``verify_chain`` and evidence bundles take)."""
    return [
        {
            "seq": r["seq"],
            "type": r["type"],
            "at": iso(r["at"]),
            "data": r["data"],
            "hash": r["hash"],
            "prev_hash": r["prev_hash"],
        }
        for r in rows
    ]


def parse_resume_point(after: int | None, last_event_id: str | None) -> int:
    """Where a stream resumes: ``after``, else ``Last-Event-ID``, else the start."""
    if after is not None:
        return after
    if last_event_id is None or last_event_id == "":
        return 0
    if not last_event_id.isdigit():
        raise Invalid.field("Last-Event-ID", "Last-Event-ID must be an event seq", last_event_id)
    return int(last_event_id)
