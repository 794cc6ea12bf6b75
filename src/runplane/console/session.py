"""Console sign-in: the API key in a sealed session cookie, CSRF tokens, and notices.

The cookie holds the key encrypted and authenticated with the server's Fernet keys
(so it is both secret and signed), is HttpOnly and SameSite=Strict, Secure when the
request came over https (directly or through a trusted proxy), and lives under
``/console`` only. Every form carries the session's CSRF token, checked on POST; the
sign-in form, before there is a session, carries one kept in a sealed cookie of its own.
A notice shown after an action travels in a sealed cookie too, never in the URL, so no
link can make the console say what its author wants.
"""

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from runplane.domain.errors import RunplaneError, Unauthorized
from runplane.domain.models import Principal
from runplane.services import auth
from runplane.services.audit import acting_via
from runplane.services.runtime import Runtime

COOKIE = "runplane_console"
LOGIN_COOKIE = "runplane_console_login"
NOTICE_COOKIE = "runplane_console_notice"
MAX_AGE = 12 * 3600
NOTICE_MAX_AGE = 60
NOTICE_MAX_CHARS = 500
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


def set_cookie(
    response: Response, request: Request, value: str, name: str = COOKIE, max_age: int = MAX_AGE
) -> None:
    """Put a console cookie (the session's, unless named) on a response."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        # The scheme is the client's: ProxyHeadersMiddleware sets it from a trusted proxy.
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, name: str = COOKIE) -> None:
    """Remove a console cookie (the session's, unless named)."""
    response.delete_cookie(name, path=PATH)


def _opened(request: Request, name: str, max_age: int) -> dict[str, Any] | None:
    """The payload of a sealed console cookie, if this server sealed it and it is fresh."""
    rt: Runtime = request.app.state.rt
    sealed = request.cookies.get(name)
    opened = rt.keys.open(sealed) if sealed else None
    data = json.loads(opened) if opened else None
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > max_age:
        return None
    return data


def login_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's CSRF token, and the sealed cookie to set for it (None: already set).

    The token already given to this browser is kept while fresh, so two open sign-in
    tabs both work.
    """
    rt: Runtime = request.app.state.rt
    data = _opened(request, LOGIN_COOKIE, MAX_AGE)
    token = data.get("login_csrf") if data else None
    if isinstance(token, str):
        return token, None
    token = secrets.token_urlsafe(24)
    return token, rt.keys.seal(json.dumps({"login_csrf": token, "at": int(time.time())}))


def check_login_csrf(request: Request, token: str | None) -> None:
    """Refuse a sign-in not posted from the form this browser was given (login CSRF)."""
    data = _opened(request, LOGIN_COOKIE, MAX_AGE)
    expected = data.get("login_csrf") if data else None
    if not isinstance(expected, str) or not token or not hmac.compare_digest(token, expected):
        raise BadCsrf("this sign-in form has expired or did not come from the console")


def redirect_with_notice(request: Request, url: str, notice: str) -> RedirectResponse:
    """A 303 to a console page that will show ``notice`` once (kept sealed, not in the URL)."""
    rt: Runtime = request.app.state.rt
    response = RedirectResponse(url, status_code=303)
    body = json.dumps({"notice": notice[:NOTICE_MAX_CHARS], "at": int(time.time())})
    set_cookie(response, request, rt.keys.seal(body), NOTICE_COOKIE, NOTICE_MAX_AGE)
    return response


def take_notice(request: Request) -> str | None:
    """The notice an action left for this page, if any (the caller clears its cookie)."""
    data = _opened(request, NOTICE_COOKIE, NOTICE_MAX_AGE)
    notice = data.get("notice") if data else None
    return notice if isinstance(notice, str) else None


async def current_user(request: Request) -> User:
    """The signed-in user, or ``SignInRequired`` (the page then sends them to sign in)."""
    rt: Runtime = request.app.state.rt
    data = _opened(request, COOKIE, MAX_AGE)
    if not data or not isinstance(data.get("key"), str) or not isinstance(data.get("csrf"), str):
        raise SignInRequired(_here(request))
    try:
        who = await auth.authenticate(rt, data["key"])
    except Unauthorized:
        raise SignInRequired(_here(request)) from None
    # The session's key acts, through the console: its activity says so.
    return User(who=acting_via(who, "console"), csrf=data["csrf"], key_prefix=data["key"][:10])


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
