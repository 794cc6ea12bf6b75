"""``/v1/agents``: list agents, their revisions, and publish one."""

from fastapi import APIRouter

from runplane.api.convert import agent_public, revision_public
from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import AgentPublic, Page, RevisionPublic
from runplane.services import agents as svc

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.get("", response_model=Page[AgentPublic])
async def list_agents(rt: RuntimeDep, who: PrincipalDep) -> Page[AgentPublic]:
    """Every agent of the tenant."""
    rows = await svc.list_agents(rt, who)
    return Page[AgentPublic](items=[agent_public(r) for r in rows])


@router.get("/{agent_id}", response_model=AgentPublic)
async def get_agent(agent_id: str, rt: RuntimeDep, who: PrincipalDep) -> AgentPublic:
    """One agent, by id or name."""
    return agent_public(await svc.find_agent(rt, who, agent_id))


@router.get("/{agent_id}/revisions", response_model=Page[RevisionPublic])
async def list_revisions(agent_id: str, rt: RuntimeDep, who: PrincipalDep) -> Page[RevisionPublic]:
    """The agent's revisions, newest first."""
    rows = await svc.list_revisions(rt, who, agent_id)
    return Page[RevisionPublic](items=[revision_public(r) for r in rows])


@router.post(
    "/{agent_id}/revisions/{revision_id}/publish",
    response_model=RevisionPublic,
)
async def publish_revision(
    agent_id: str, revision_id: str, rt: RuntimeDep, who: PrincipalDep
) -> RevisionPublic:
    """Make this revision the one new runs use."""
    return revision_public(await svc.publish(rt, who, agent_id, revision_id))
