"""``/v1/agents/{agent_id}/revisions/{revision_id}/gate``: a revision's replay gate."""

from typing import Annotated

from fastapi import APIRouter, Path

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import BenchmarkSuiteRecord
from runplane.schemas.benchmarks import SuitePublic
from runplane.services import gate as svc

router = APIRouter(prefix="/v1/agents", tags=["benchmarks"])
AgentId = Annotated[str, Path(min_length=1, max_length=200)]
RevisionId = Annotated[str, Path(min_length=1, max_length=40)]


def gate_public(suite: BenchmarkSuiteRecord) -> SuitePublic:
    """A gate's suite run as the API shows it."""
    return SuitePublic.model_validate(dict(suite))


@router.post(
    "/{agent_id}/revisions/{revision_id}/gate",
    status_code=202,
    response_model=SuitePublic,
    responses={403: {}, 404: {}, 409: {}},
)
async def start_gate(
    agent_id: AgentId, revision_id: RevisionId, rt: RuntimeDep, who: PrincipalDep
) -> SuitePublic:
    """Replay the agent's recent production runs against this revision and score them."""
    return gate_public(await svc.start_gate(rt, who, agent_id, revision_id))


@router.get(
    "/{agent_id}/revisions/{revision_id}/gate", response_model=SuitePublic, responses={404: {}}
)
async def get_gate(
    agent_id: AgentId, revision_id: RevisionId, rt: RuntimeDep, who: PrincipalDep
) -> SuitePublic:
    """The revision's latest replay gate: its progress, or its summary and verdict."""
    return gate_public(await svc.latest_gate(rt, who, agent_id, revision_id))
