"""Audit & Governance > Policy: the policy in force as a JSON document to edit (checked by
the server, its errors shown by field), its versions with who and when, and each one."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from runplane.console.session import UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import render
from runplane.domain.errors import Conflict, Forbidden, Invalid
from runplane.services import governance_policy as svc

router = APIRouter()


async def _page(request: Request, user: Any, version: int | None = None, **extra: Any) -> Response:
    rt = request.app.state.rt
    current = await svc.get_policy(rt, user.who)
    shown = current if version is None else await svc.get_version(rt, user.who, version)
    versions, _ = await svc.list_versions(rt, user.who, 100, None)
    text = extra.pop("text", None) or json.dumps(current["document"], indent=2)
    return render(
        request,
        "governance_policy.html",
        user,
        tab="policy",
        current=current,
        shown=shown,
        shown_json=json.dumps(shown["document"], indent=2),
        versions=versions,
        text=text,
        status=422 if extra.get("error") else 200,
        **extra,
    )


@router.get("/governance/policy")
async def policy_page(
    request: Request, user: UserDep, version: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """The policy in force (or one version), its editor, and its versions."""
    return await _page(request, user, version)


@router.post("/governance/policy")
async def save_policy(
    request: Request,
    user: UserDep,
    document: Annotated[str, Form(max_length=200_000)],
    comment: Annotated[str, Form(max_length=2000)] = "",
    base_version: Annotated[int | None, Form(ge=1)] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Save the edited document as the next version; a refusal shows its field and keeps
    the text as typed."""
    check_csrf(user, csrf)
    try:
        try:
            raw = json.loads(document)
        except ValueError as exc:
            raise Invalid.field("document", f"the document is not JSON: {exc}") from None
        policy = svc.parse_document(raw)
        made = await svc.set_policy(
            request.app.state.rt, user.who, policy, comment.strip() or None, base_version
        )
    except (Invalid, Conflict, Forbidden) as exc:
        field = exc.details[0]["name"] if exc.details else None
        return await _page(request, user, error=exc.message, field=field, text=document)
    notice = f"Policy version {made['version']} is in force."
    return redirect_with_notice(request, "/console/governance/policy", notice)
