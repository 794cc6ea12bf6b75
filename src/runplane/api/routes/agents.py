"""``/v1/agents``: list agents, create step agents and their revisions, publish one."""

from typing import Annotated

from fastapi import APIRouter, Path

from runplane.api.convert import agent_public, revision_public
from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import AgentPublic, Page, RevisionPublic
from runplane.schemas.gates import PublishRequest
from runplane.schemas.steps import StepAgentCreated, StepAgentDefinition
from runplane.services import agents as svc
from runplane.services import gate as gate_svc

router = APIRouter(prefix="/v1/agents", tags=["agents"])
AgentId = Annotated[str, Path(min_length=1, max_length=200)]
RevisionId = Annotated[str, Path(min_length=1, max_length=40)]


@router.get("", response_model=Page[AgentPublic])
async def list_agents(rt: RuntimeDep, who: PrincipalDep) -> Page[AgentPublic]:
    """Every agent of the tenant."""
    rows = await svc.list_agents(rt, who)
    return Page[AgentPublic](items=[agent_public(r) for r in rows])


@router.post("", status_code=201, response_model=StepAgentCreated, responses={403: {}, 409: {}})
async def create_agent(
    body: StepAgentDefinition, rt: RuntimeDep, who: PrincipalDep
) -> StepAgentCreated:
    """Create a step agent (kind ``steps``) with its definition as its first, draft revision."""
    agent, revision = await svc.create_step_agent(rt, who, body)
    return StepAgentCreated(agent=agent_public(agent), revision=revision_public(revision))


@router.get("/{agent_id}", response_model=AgentPublic, responses={404: {}})
async def get_agent(agent_id: AgentId, rt: RuntimeDep, who: PrincipalDep) -> AgentPublic:
    """One agent, by id or name."""
    return agent_public(await svc.find_agent(rt, who, agent_id))


@router.get("/{agent_id}/revisions", response_model=Page[RevisionPublic], responses={404: {}})
async def list_revisions(
    agent_id: AgentId, rt: RuntimeDep, who: PrincipalDep
) -> Page[RevisionPublic]:
    """The agent's revisions, newest first."""
    rows = await svc.list_revisions(rt, who, agent_id)
    return Page[RevisionPublic](items=[revision_public(r) for r in rows])


@router.post(
    "/{agent_id}/revisions",
    status_code=201,
    response_model=RevisionPublic,
    responses={403: {}, 404: {}, 409: {}},
)
async def create_revision(
    agent_id: AgentId, body: StepAgentDefinition, rt: RuntimeDep, who: PrincipalDep
) -> RevisionPublic:
    """A new draft revision of a step agent from a whole definition (the same one if unchanged)."""
    return revision_public(await svc.revise_step_agent(rt, who, agent_id, body))


@router.get(
    "/{agent_id}/revisions/{revision_id}", response_model=RevisionPublic, responses={404: {}}
)
async def get_revision(
    agent_id: AgentId, revision_id: RevisionId, rt: RuntimeDep, who: PrincipalDep
) -> RevisionPublic:
    """One revision of the agent, with its definition (``config``)."""
    return revision_public(await svc.get_revision(rt, who, agent_id, revision_id))


@router.post(
    "/{agent_id}/revisions/{revision_id}/publish",
    response_model=RevisionPublic,
    responses={403: {}, 404: {}, 409: {}, 422: {}},
)
async def publish_revision(
    agent_id: AgentId,
    revision_id: RevisionId,
    rt: RuntimeDep,
    who: PrincipalDep,
    body: PublishRequest | None = None,
) -> RevisionPublic:
    """Make this revision the one new runs use, through the agent's replay gate if required.

    A failing gate refuses with 409 and its report; an admin may publish anyway with
    ``override_reason``.
    """
    reason = body.override_reason if body is not None else None
    return revision_public(await gate_svc.publish(rt, who, agent_id, revision_id, reason))
