"""``/v1/agents/{agent_id}/split``: an A/B split of an agent's new runs between two revisions."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.json import JSONObject
from runplane.domain.models import AgentRecord
from runplane.schemas.benchmarks import SplitConfig, SplitPublic
from runplane.services import splits as svc

router = APIRouter(prefix="/v1/agents", tags=["agents"])
AgentId = Annotated[str, Path(min_length=1, max_length=200)]


def split_public(agent: AgentRecord, split: JSONObject) -> SplitPublic:
    """An agent's split as the API shows it."""
    return SplitPublic.model_validate({**split, "agent_id": agent["id"]})


@router.put(
    "/{agent_id}/split",
    response_model=SplitPublic,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
)
async def put_split(
    agent_id: AgentId, body: SplitConfig, rt: RuntimeDep, who: PrincipalDep
) -> SplitPublic:
    """Send ``percent_b`` % of the agent's new runs that name no revision to revision B."""
    return split_public(*await svc.put_split(rt, who, agent_id, body))


@router.get("/{agent_id}/split", response_model=SplitPublic, responses={404: {}})
async def get_split(agent_id: AgentId, rt: RuntimeDep, who: PrincipalDep) -> SplitPublic:
    """The agent's A/B split, or 404 when it has none."""
    return split_public(*await svc.get_split(rt, who, agent_id))


@router.delete("/{agent_id}/split", status_code=204, responses={403: {}, 404: {}})
async def delete_split(agent_id: AgentId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """End the agent's A/B split: its new runs use the published revision again."""
    await svc.delete_split(rt, who, agent_id)
    return Response(status_code=204)
