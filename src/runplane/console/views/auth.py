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


def _login_page(request: Request, next: str | None, status: int, error: str | None) -> Response:
    """The sign-in form, with its CSRF token (and the cookie that holds it)."""
    token, sealed = session.login_token(request)
    response = render(
        request, "login.html", None, status=status, next=_safe_next(next), error=error, csrf=token
    )
    if sealed is not None:
        session.set_cookie(response, request, sealed, session.LOGIN_COOKIE)
    return response


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _login_page(request, next, 200, None)


@router.post("/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the form's token and the key; on success keep the key in the session cookie."""
    try:
        session.check_login_csrf(request, csrf)
    except session.BadCsrf:
        # Another site posted here (to sign the browser in as someone else), or the form
        # is stale: refused, with a fresh form to sign in for real.
        error = "This sign-in form has expired or did not come from this console. Sign in again."
        return _login_page(request, next, 403, error)
    rt = request.app.state.rt
    try:
        await auth.authenticate(rt, api_key.strip())
    except Unauthorized:
        return _login_page(request, next, 401, "That key is not valid. Check it and try again.")
    value, _ = session.seal(rt, api_key.strip())
    response = RedirectResponse(_safe_next(next), status_code=303)
    session.set_cookie(response, request, value)
    session.clear_cookie(response, session.LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(user: session.UserDep, csrf: Annotated[str, Form()] = "") -> Response:
    """Forget the session."""
    session.check_csrf(user, csrf)
    response = RedirectResponse("/console/login", status_code=303)
    session.clear_cookie(response)
    return response
