"""Console sign-in: the API key in a sealed session cookie, and CSRF tokens for forms.

The cookie holds the key encrypted and authenticated with the server's Fernet keys
(so it is both secret and signed), is HttpOnly and SameSite=Strict, and lives under
``/console`` only. Every form carries the session's CSRF token, checked on POST.
"""

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from runplane.domain.errors import RunplaneError, Unauthorized
from runplane.domain.models import Principal
from runplane.services import auth
from runplane.services.runtime import Runtime

COOKIE = "runplane_console"
MAX_AGE = 12 * 3600
PATH = "/console"


class SignInRequired(Exception):  # noqa: N818 - a redirect, not an error
    """The page needs a signed-in user; carries where to come back to."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class BadCsrf(RunplaneError):
    """A form was posted without this session's token."""

    status = 403
    code = "csrf_failed"


@dataclass(frozen=True)
class User:
    """Who is signed in to the console: the principal and the session's CSRF token."""

    who: Principal
    csrf: str
    key_prefix: str


def seal(rt: Runtime, key: str) -> tuple[str, str]:
    """A new session cookie value for a key, and its CSRF token."""
    csrf = secrets.token_urlsafe(24)
    body = json.dumps({"key": key, "csrf": csrf, "at": int(time.time())})
    return rt.keys.seal(body), csrf


def set_cookie(response: object, request: Request, value: str) -> None:
    """Put the session cookie on a response."""
    response.set_cookie(  # type: ignore[attr-defined]
        COOKIE,
        value,
        max_age=MAX_AGE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: object) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, path=PATH)  # type: ignore[attr-defined]


async def current_user(request: Request) -> User:
    """The signed-in user, or ``SignInRequired`` (the page then sends them to sign in)."""
    rt: Runtime = request.app.state.rt
    sealed = request.cookies.get(COOKIE)
    opened = rt.keys.open(sealed) if sealed else None
    data = json.loads(opened) if opened else None
    if not data or time.time() - data.get("at", 0) > MAX_AGE:
        raise SignInRequired(_here(request))
    try:
        who = await auth.authenticate(rt, data["key"])
    except Unauthorized:
        raise SignInRequired(_here(request)) from None
    return User(who=who, csrf=data["csrf"], key_prefix=data["key"][:10])


def check_csrf(user: User, token: str | None) -> None:
    """Refuse a form whose token is not this session's."""
    if not token or not hmac.compare_digest(token, user.csrf):
        raise BadCsrf("this form has expired or did not come from the console; reload the page")


def _here(request: Request) -> str:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return quote(path, safe="/?=&")


UserDep = Annotated[User, Depends(current_user)]
