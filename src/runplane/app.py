"""The app factory: ``create_app(settings)`` builds a runplane ASGI app: the API and the console."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from runplane.api.errors import install_error_handlers
from runplane.api.limits import BodySizeLimit
from runplane.api.routes import (
    agents,
    approvals,
    assistants,
    connections,
    crons,
    graph_runs,
    health,
    runs,
    store,
    threads,
    tools,
)
from runplane.console import views as console
from runplane.services.process import running_process
from runplane.settings import Settings
from runplane.version import __version__


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the database, engine and workers start with its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_process(settings) as rt:
            app.state.rt = rt
            yield

    app = FastAPI(
        title="runplane",
        version=__version__,
        description="Execute, track and govern runs of AI agents.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # The Agent Protocol (LangGraph's server API), at the root as LangGraph serves it;
    # its run routes go first, as routes are matched in order and these are the hottest.
    app.include_router(crons.router)
    app.include_router(graph_runs.router)
    app.include_router(assistants.router)
    app.include_router(threads.router)
    app.include_router(store.router)
    app.include_router(health.router)
    # Before runs: /v1/runs/approval must not be read as a run id.
    app.include_router(approvals.router)
    app.include_router(runs.router)
    app.include_router(tools.router)
    app.include_router(connections.router)
    app.include_router(agents.router)
    console.install(app)
    return app
