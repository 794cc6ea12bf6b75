"""The console's pages, one module per area, under ``/console``."""

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from runplane.console.headers import ConsoleHeaders
from runplane.console.session import SignInRequired
from runplane.console.views import (
    agents,
    approvals,
    auth,
    benchmarks,
    editor,
    files,
    governance,
    governance_activity,
    governance_exports,
    governance_holds,
    governance_policy,
    links,
    quality,
    run,
    runs,
    triggers,
    usage,
)
from runplane.console.views.common import error_page

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    """Mount the console on an app: pages, static files, sign-in redirects, error pages."""
    router = APIRouter(prefix="/console", include_in_schema=False)
    for module in (
        auth,
        runs,
        run,
        approvals,
        editor,
        agents,
        triggers,
        files,
        links,
        usage,
        quality,
        benchmarks,
        governance,
        governance_policy,
        governance_holds,
        governance_exports,
        governance_activity,
    ):
        router.include_router(module.router)
    app.include_router(router)

    @app.get("/console", include_in_schema=False)
    async def home() -> Response:
        """The console opens on the runs list."""
        return RedirectResponse("/console/runs", status_code=303)

    app.mount("/console/static", StaticFiles(directory=str(STATIC)), name="console-static")
    app.add_middleware(ConsoleHeaders)

    async def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(f"/console/login?next={exc.next_url}", status_code=303)

    app.add_exception_handler(SignInRequired, sign_in)
    app.state.html_errors = error_page
