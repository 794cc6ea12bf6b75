"""Signing in with an API key, and out."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from runplane.console import session
from runplane.console.views.common import render
from runplane.domain.errors import Unauthorized
from runplane.services import auth

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only pages of the console: never send people to another site after sign-in.
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/runs"


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the key; on success keep it in the session cookie."""
    rt = request.app.state.rt
    try:
        await auth.authenticate(rt, api_key.strip())
    except Unauthorized:
        return render(
            request,
            "login.html",
            None,
            status=401,
            next=_safe_next(next),
            error="That key is not valid. Check it and try again.",
        )
    value, _ = session.seal(rt, api_key.strip())
    response = RedirectResponse(_safe_next(next), status_code=303)
    session.set_cookie(response, request, value)
    return response


@router.post("/logout")
async def logout(user: session.UserDep, csrf: Annotated[str, Form()] = "") -> Response:
    """Forget the session."""
    session.check_csrf(user, csrf)
    response = RedirectResponse("/console/login", status_code=303)
    session.clear_cookie(response)
    return response
