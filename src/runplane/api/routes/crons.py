"""``/runs/crons``: graph runs on a schedule (Agent Protocol)."""

from fastapi import APIRouter, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes._protocol import json_answer, search_answer
from runplane.schemas.agent_protocol import CronCreate, CronPatch, CronSearch
from runplane.services import crons as svc

router = APIRouter(tags=["crons"])


@router.post("/runs/crons")
async def create_cron(body: CronCreate, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Schedule stateless runs."""
    return json_answer(svc.cron_json(await svc.create(rt, who, None, body), who))


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(
    thread_id: str, body: CronCreate, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Schedule runs on a thread."""
    return json_answer(svc.cron_json(await svc.create(rt, who, thread_id, body), who))


@router.post("/runs/crons/search")
async def search_crons(body: CronSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Crons by assistant, thread and state."""
    return search_answer(await svc.search(rt, who, body), lambda row: svc.cron_json(row, who), body)


@router.post("/runs/crons/count")
async def count_crons(body: CronSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """How many crons match."""
    return json_answer(len(await svc.search(rt, who, body)))


@router.patch("/runs/crons/{cron_id}")
async def update_cron(cron_id: str, body: CronPatch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Change a cron."""
    return json_answer(svc.cron_json(await svc.update(rt, who, cron_id, body), who))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete a cron."""
    await svc.delete(rt, who, cron_id)
    return Response(status_code=204)
