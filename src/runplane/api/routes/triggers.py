"""``/v1/triggers``: schedules, signed webhooks and uploads that start runs of an agent."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import TriggerRecord
from runplane.schemas import HookAccepted, Page, TriggerCreate, TriggerPatch, TriggerPublic
from runplane.services import trigger_hooks
from runplane.services import triggers as svc

router = APIRouter(prefix="/v1/triggers", tags=["triggers"])
TriggerId = Annotated[str, Path(min_length=1, max_length=40)]
HOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "Any JSON object; the trigger's `mapping` makes the run's input of it",
    }
}


def trigger_public(row: TriggerRecord, secret: str | None = None) -> TriggerPublic:
    """A trigger, with its next ticks and (webhooks) its URL; the secret only when made."""
    data = {k: v for k, v in row.items() if k != "secret"}
    return TriggerPublic.model_validate(
        {
            **data,
            "next_fire_times": svc.upcoming(row),
            "hook_url": f"/v1/triggers/{row['id']}/hook" if row["kind"] == "webhook" else None,
            **{k: (row["options"] or {}).get(k) for k in svc.UPLOAD_FIELDS},
            "secret": secret,
        }
    )


@router.post("", status_code=201, response_model=TriggerPublic, responses={404: {}, 409: {}})
async def create_trigger(body: TriggerCreate, rt: RuntimeDep, who: PrincipalDep) -> TriggerPublic:
    """Make a trigger; a webhook trigger's ``secret`` is in this answer only."""
    row, secret = await svc.create(rt, who, body)
    return trigger_public(row, secret)


@router.get("", response_model=Page[TriggerPublic])
async def list_triggers(
    rt: RuntimeDep,
    who: PrincipalDep,
    kind: Literal["schedule", "webhook", "upload", "agent"] | None = None,
    agent_id: str | None = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[TriggerPublic]:
    """The tenant's triggers, oldest first; filter by kind, agent, enabled."""
    rows, token = await svc.list_triggers(
        rt,
        who,
        kind=kind,
        agent_id=agent_id,
        enabled=enabled,
        limit=limit,
        continuation_token=continuation_token,
    )
    return Page[TriggerPublic](items=[trigger_public(r) for r in rows], continuation_token=token)


@router.get("/{trigger_id}", response_model=TriggerPublic)
async def get_trigger(trigger_id: TriggerId, rt: RuntimeDep, who: PrincipalDep) -> TriggerPublic:
    """One trigger, with a schedule's next five fire times."""
    return trigger_public(await svc.get(rt, who, trigger_id))


@router.patch("/{trigger_id}", response_model=TriggerPublic, responses={409: {}})
async def update_trigger(
    trigger_id: TriggerId, body: TriggerPatch, rt: RuntimeDep, who: PrincipalDep
) -> TriggerPublic:
    """Change a trigger's input, variables, revision, schedule or mapping."""
    return trigger_public(await svc.update(rt, who, trigger_id, body))


@router.delete("/{trigger_id}", status_code=204, response_class=Response)
async def delete_trigger(trigger_id: TriggerId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete a trigger; the runs it started stay."""
    await svc.delete(rt, who, trigger_id)
    return Response(status_code=204)


@router.post("/{trigger_id}/enable", response_model=TriggerPublic)
async def enable_trigger(trigger_id: TriggerId, rt: RuntimeDep, who: PrincipalDep) -> TriggerPublic:
    """Enable a trigger (a schedule fires from its next tick after now)."""
    return trigger_public(await svc.set_state(rt, who, trigger_id, enabled=True))


@router.post("/{trigger_id}/disable", response_model=TriggerPublic)
async def disable_trigger(
    trigger_id: TriggerId, rt: RuntimeDep, who: PrincipalDep
) -> TriggerPublic:
    """Disable a trigger: it starts no run until enabled."""
    return trigger_public(await svc.set_state(rt, who, trigger_id, enabled=False))


@router.post("/{trigger_id}/pause", response_model=TriggerPublic)
async def pause_trigger(trigger_id: TriggerId, rt: RuntimeDep, who: PrincipalDep) -> TriggerPublic:
    """Pause a schedule: its ticks start nothing until resumed (nor after)."""
    return trigger_public(await svc.set_state(rt, who, trigger_id, paused=True))


@router.post("/{trigger_id}/resume", response_model=TriggerPublic)
async def resume_trigger(trigger_id: TriggerId, rt: RuntimeDep, who: PrincipalDep) -> TriggerPublic:
    """Resume a paused schedule from its next tick after now."""
    return trigger_public(await svc.set_state(rt, who, trigger_id, paused=False))


@router.post(
    "/{trigger_id}/hook",
    status_code=202,
    response_model=HookAccepted,
    responses={401: {}, 404: {}, 409: {}, 422: {}},
    openapi_extra=HOOK_BODY,
)
async def deliver_hook(trigger_id: TriggerId, request: Request, rt: RuntimeDep) -> HookAccepted:
    """Start a run from a signed webhook (no API key: the trigger's secret signs it)."""
    body = await request.body()
    run = await trigger_hooks.receive(rt, trigger_id, body, request.headers)
    return HookAccepted(run_id=run["id"], trigger_id=trigger_id)
