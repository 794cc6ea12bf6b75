"""``/v1/files``: upload into a site, list, read, download and delete files."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.schemas import FileHoldCreate, FilePublic, Page
from runplane.services import files as svc
from runplane.services import trigger_uploads

router = APIRouter(prefix="/v1/files", tags=["sites and files"])
FileId = Annotated[str, Path(min_length=1, max_length=40)]


def file_public(row: object) -> FilePublic:
    """A file record as the API shows it."""
    return FilePublic.model_validate(row)


def content_disposition(name: str) -> str:
    """``attachment`` with the name in ASCII and, exactly, in UTF-8 (RFC 6266)."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.post("", status_code=201, response_model=FilePublic)
async def upload_file(
    rt: RuntimeDep,
    who: PrincipalDep,
    file: Annotated[UploadFile, File(description="the file's bytes (its part's type is checked)")],
    site_id: Annotated[str, Form(min_length=1, max_length=200)],
    media_type: Annotated[str | None, Form(max_length=255)] = None,
) -> FilePublic:
    """Upload a file into a site (multipart): its type is told from its content; the
    site's matching upload triggers have recorded their runs when this answers."""
    limit = rt.settings.max_file_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise svc.too_large(rt, len(data))
    row = await trigger_uploads.upload(
        rt,
        who,
        site_id=site_id,
        name=file.filename or "",
        data=data,
        declared=media_type or file.content_type,
    )
    return file_public(row)


@router.get("", response_model=Page[FilePublic])
async def list_files(
    rt: RuntimeDep,
    who: PrincipalDep,
    site_id: Annotated[str | None, Query(max_length=200)] = None,
    run_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[FilePublic]:
    """The tenant's files, newest first; filter by site or by the run that made them."""
    rows, token = await svc.list_files(
        rt, who, site_id=site_id, run_id=run_id, limit=limit, continuation_token=continuation_token
    )
    return Page[FilePublic](items=[file_public(r) for r in rows], continuation_token=token)


@router.get("/{file_id}", response_model=FilePublic)
async def get_file(file_id: FileId, rt: RuntimeDep, who: PrincipalDep) -> FilePublic:
    """A file's metadata: name, media type, size, sha256, site or run."""
    return file_public(await svc.get_file(rt, who, file_id))


@router.get(
    "/{file_id}/content",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the bytes"}},
)
async def download_file(file_id: FileId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Download a file's bytes, with its media type and name."""
    row, data = await svc.read_content(rt, who, file_id)
    return Response(
        content=data,
        media_type=row["media_type"],
        headers={
            "Content-Disposition": content_disposition(row["name"]),
            "ETag": f'"{row["sha256"]}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{file_id}", status_code=204, response_class=Response)
async def delete_file(file_id: FileId, rt: RuntimeDep, who: PrincipalDep) -> Response:
    """Delete a file, unless it is on legal hold or a run that has not ended uses it."""
    await svc.delete_file(rt, who, file_id)
    return Response(status_code=204)


@router.post("/{file_id}/hold", response_model=FilePublic)
async def hold_file(
    file_id: FileId, body: FileHoldCreate, rt: RuntimeDep, who: PrincipalDep
) -> FilePublic:
    """Put a file on legal hold (admin keys; audited): it is not deleted until released."""
    return file_public(await svc.hold_file(rt, who, file_id, body.reason))


@router.delete("/{file_id}/hold", response_model=FilePublic)
async def release_file(file_id: FileId, rt: RuntimeDep, who: PrincipalDep) -> FilePublic:
    """Release a file's legal hold (admin keys; audited); 409 if it is not on hold."""
    return file_public(await svc.release_file(rt, who, file_id))
