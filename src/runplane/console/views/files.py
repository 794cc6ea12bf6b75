"""The sites and files page: each site's files (download, delete), make a site, upload a
file into one. Uploads go through the same service as ``POST /v1/files``, so the site's
upload triggers fire for them too."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge
from runplane.services import files as files_svc
from runplane.services import sites as sites_svc
from runplane.services import trigger_uploads

router = APIRouter()
PAGE = "/console/files"
REFUSALS = (Invalid, NotFound, Conflict, Forbidden, PayloadTooLarge)


def size_text(size: int) -> str:
    """A size as people read it: ``812 B``, ``4.2 KiB``, ``1.5 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop returns by MiB


async def _page(request: Request, user: Any, status: int = 200, **extra: Any) -> Response:
    rt = request.app.state.rt
    sites = await sites_svc.list_sites(rt, user.who)
    files = await files_svc.in_sites(rt, user.who, [s["id"] for s in sites])
    by_site: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in sites}
    for f in files:
        by_site[f["site_id"] or ""].append({**f, "size_text": size_text(f["size"])})
    return render(
        request,
        "files.html",
        user,
        status=status,
        sites=[{**s, "files": by_site[s["id"]]} for s in sites],
        **extra,
    )


@router.get("/files")
async def files_page(request: Request, user: UserDep) -> Response:
    """The tenant's sites, each with its files, newest first; forms to make and upload."""
    return await _page(request, user)


@router.post("/sites")
async def make_site(
    request: Request,
    user: UserDep,
    name: Annotated[str, Form(max_length=500)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make a site; a refusal (a taken or bad name) comes back on the page, naming it."""
    check_csrf(user, csrf)
    name = name.strip()
    try:
        if not name or len(name) > 200 or "/" in name:
            raise Invalid.field("name", "a site's name is 1 to 200 characters, without /", name)
        await sites_svc.create_site(
            request.app.state.rt, user.who, name, description.strip() or None
        )
    except REFUSALS as exc:
        return await _page(request, user, 422, error=f"Site not made: {exc.message}")
    return redirect_with_notice(request, PAGE, f"Made site {name!r}.")


@router.post("/files")
async def upload_file(
    request: Request,
    user: UserDep,
    file: Annotated[UploadFile | None, File()] = None,
    site: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Upload a file into a site (multipart), firing the site's upload triggers."""
    check_csrf(user, csrf)
    rt = request.app.state.rt
    try:
        if file is None or not file.filename:
            raise Invalid.field("file", "choose a file to upload")
        limit = rt.settings.max_file_bytes
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise files_svc.too_large(rt, len(data))
        row = await trigger_uploads.upload(
            rt, user.who, site_id=site, name=file.filename, data=data, declared=file.content_type
        )
    except REFUSALS as exc:
        status = 413 if isinstance(exc, PayloadTooLarge) else 422
        return await _page(request, user, status, error=f"Not uploaded: {exc.message}")
    return redirect_with_notice(
        request, PAGE, f"Uploaded {row['name']} ({row['media_type']}, {size_text(row['size'])})."
    )


@router.post("/files/{file_id}/delete")
async def delete_file(
    request: Request, file_id: str, user: UserDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Delete a file; a refusal (a run or a hold uses it) comes back as a notice."""
    check_csrf(user, csrf)
    try:
        await files_svc.delete_file(request.app.state.rt, user.who, file_id)
    except REFUSALS as exc:
        return redirect_with_notice(request, PAGE, f"Not deleted: {exc.message}")
    return redirect_with_notice(request, PAGE, "Deleted.")
