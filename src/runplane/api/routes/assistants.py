"""``/assistants``: configurations of hosted graphs, with versions (Agent Protocol)."""

from fastapi import APIRouter, Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.api.routes._protocol import json_answer, search_answer
from runplane.schemas.agent_protocol import (
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    LatestVersion,
    VersionsSearch,
)
from runplane.services import assistants as svc

router = APIRouter(tags=["assistants"])


@router.post("/assistants")
async def create_assistant(body: AssistantCreate, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Create an assistant for a graph."""
    return json_answer(svc.assistant_json(await svc.create(rt, who, body), who))


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Assistants by graph, name and metadata."""
    return search_answer(
        await svc.search(rt, who, body), lambda row: svc.assistant_json(row, who), body
    )


@router.post("/assistants/count")
async def count_assistants(body: AssistantSearch, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """How many assistants match."""
    return json_answer(len(await svc.search(rt, who, body)))


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """One assistant (a graph's name gives its default assistant)."""
    return json_answer(svc.assistant_json(await svc.get(rt, who, assistant_id), who))


@router.patch("/assistants/{assistant_id}")
async def update_assistant(
    assistant_id: str, body: AssistantPatch, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Change an assistant: a new version."""
    return json_answer(svc.assistant_json(await svc.update(rt, who, assistant_id, body), who))


@router.delete("/assistants/{assistant_id}", status_code=204)
async def delete_assistant(assistant_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete an assistant."""
    await svc.delete(rt, who, assistant_id)
    return Response(status_code=204)


@router.post("/assistants/{assistant_id}/versions")
async def list_versions(
    assistant_id: str, body: VersionsSearch, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """An assistant's versions, newest first."""
    rows = await svc.versions(rt, who, assistant_id, body.metadata)
    return json_answer(
        [svc.version_json(v, who) for v in rows[body.offset : body.offset + body.limit]]
    )


@router.post("/assistants/{assistant_id}/latest")
async def set_latest(
    assistant_id: str, body: LatestVersion, rt: RuntimeDep, who: PrincipalDep
) -> Response:
    """Make a version the current one."""
    return json_answer(
        svc.assistant_json(await svc.set_latest(rt, who, assistant_id, body.version), who)
    )


@router.get("/assistants/{assistant_id}/graph")
async def get_graph(
    assistant_id: str, rt: RuntimeDep, who: PrincipalDep, xray: int | bool = False
) -> Response:
    """The assistant's graph as nodes and edges."""
    return json_answer(await svc.graph_json(rt, who, assistant_id, xray))


@router.get("/assistants/{assistant_id}/schemas")
async def get_schemas(assistant_id: str, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """The graph's JSON Schemas."""
    return json_answer(await svc.schemas_json(rt, who, assistant_id))


@router.get("/assistants/{assistant_id}/subgraphs")
@router.get("/assistants/{assistant_id}/subgraphs/{namespace}")
async def get_subgraphs(
    assistant_id: str,
    rt: RuntimeDep,
    who: PrincipalDep,
    namespace: str | None = None,
    recurse: bool = False,
) -> Response:
    """The schemas of the graph's subgraphs."""
    return json_answer(await svc.subgraphs_json(rt, who, assistant_id, namespace, recurse))
