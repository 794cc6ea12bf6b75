"""Evidence bundles: one run's (``/v1/runs/{id}/evidence``), and exports built in the background."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.domain.models import EvidenceExportRecord
from runplane.schemas import Page
from runplane.schemas.evidence import ExportCreate, ExportPublic
from runplane.services import evidence as svc

router = APIRouter(prefix="/v1", tags=["governance"])
ExportId = Annotated[str, Path(min_length=1, max_length=40)]
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/zip": {}}, "description": "the evidence bundle (a zip)"}
}


def export_public(row: EvidenceExportRecord) -> ExportPublic:
    """An export as the API shows it: what was asked (not the runs it resolved to)."""
    done = row["status"] == "succeeded"
    return ExportPublic.model_validate(
        {
            **row,
            "query": svc.asked(row),
            "download_url": f"/v1/governance/exports/{row['id']}/download" if done else None,
        }
    )


def _zip(name: str, body: object, size: int | None = None) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(body, media_type="application/zip", headers=headers)  # type: ignore[arg-type]


@router.get(
    "/runs/{run_id}/evidence",
    response_class=StreamingResponse,
    responses={**ZIP, 409: {}},
    tags=["runs"],
)
async def run_evidence(run_id: str, rt: RuntimeDep, who: PrincipalDep) -> StreamingResponse:
    """The evidence bundle of one ended run (409 while it runs), streamed."""
    out, size = await svc.run_bundle(rt, who, run_id)
    return _zip(f"evidence-{run_id}.zip", svc.chunks(out), size)


@router.post(
    "/governance/exports",
    status_code=202,
    response_model=ExportPublic,
    responses={403: {}, 409: {}},
)
async def create_export(body: ExportCreate, rt: RuntimeDep, who: PrincipalDep) -> ExportPublic:
    """Start an export of runs (by id, or a query); it is built in the background."""
    return export_public(await svc.create_export(rt, who, body))


@router.get("/governance/exports", response_model=Page[ExportPublic], responses={403: {}})
async def list_exports(
    rt: RuntimeDep,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[ExportPublic]:
    """The tenant's exports, newest first."""
    rows, token = await svc.list_exports(rt, who, limit, continuation_token)
    return Page[ExportPublic](items=[export_public(r) for r in rows], continuation_token=token)


@router.get("/governance/exports/{export_id}", response_model=ExportPublic, responses={403: {}})
async def get_export(export_id: ExportId, rt: RuntimeDep, who: PrincipalDep) -> ExportPublic:
    """One export: its status and progress (runs_done of runs_total, bytes so far)."""
    return export_public(await svc.get_export(rt, who, export_id))


@router.get(
    "/governance/exports/{export_id}/download",
    response_class=StreamingResponse,
    responses={**ZIP, 403: {}, 409: {}, 410: {}},
)
async def download_export(
    export_id: ExportId, rt: RuntimeDep, who: PrincipalDep
) -> StreamingResponse:
    """The finished export's zip, streamed (409 until it has succeeded)."""
    out, row = await svc.open_export(rt, who, export_id)
    return _zip(f"evidence-{export_id}.zip", svc.chunks(out), row["bytes"])
