"""The app factory: ``create_app(settings)`` builds a runplane ASGI app: the API and the console."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from runplane.api.dialects import agdev, kognitos, toolregistry
from runplane.api.errors import install_error_handlers
from runplane.api.limits import BodySizeLimit
from runplane.api.openapi import install_openapi
from runplane.api.routes import (
    activity,
    agents,
    approvals,
    assistants,
    audit,
    benchmark_scores,
    benchmarks,
    budgets,
    connections,
    crons,
    customer_integrations,
    evidence,
    files,
    gates,
    governance_deletions,
    governance_holds,
    governance_policy,
    graph_runs,
    health,
    keys,
    metrics,
    model_providers,
    models,
    quality,
    quotas,
    runs,
    signing_keys,
    sites,
    splits,
    store,
    threads,
    tools,
    triggers,
    usage,
    webhook_deliveries,
    webhook_endpoints,
    webhook_secret,
)
from runplane.api.traces import TraceRequests
from runplane.api.url_guard import RefuseNulInUrl
from runplane.console import views as console
from runplane.services.process import drain, running_process
from runplane.settings import Settings
from runplane.version import __version__


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the database, engine and workers start with its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_process(settings) as rt:
            app.state.rt = rt
            yield
            if settings.processes > 1 and not rt.worker.draining:
                # One of several processes: uvicorn's supervisor stops each with SIGTERM
                # and waits for it, so it drains here, once its socket is closed (a
                # single process drains first, with /readyz saying so: server.py).
                await drain(rt, settings.drain_seconds)

    app = FastAPI(
        title="runplane",
        version=__version__,
        description="Execute, track and govern runs of AI agents.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # An upload may be as large as a file may be, with room for its form's other parts.
    upload_limit = max(settings.max_body_bytes, settings.max_file_bytes + 2**20)
    uploads = {"/v1/files": upload_limit, "/console/files": upload_limit}
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, paths=uploads)
    app.add_middleware(RefuseNulInUrl)
    # The Agent Protocol (LangGraph's server API), at the root as LangGraph serves it;
    # its run routes go first, as routes are matched in order and these are the hottest.
    app.include_router(crons.router)
    app.include_router(graph_runs.router)
    app.include_router(assistants.router)
    app.include_router(threads.router)
    app.include_router(store.router)
    app.include_router(health.router)
    # With a separate metrics address (RUNPLANE_METRICS_BIND), only that listener serves them.
    if not settings.metrics_bind:
        app.include_router(metrics.router)
    # Before runs: /v1/runs/approval must not be read as a run id.
    app.include_router(approvals.router)
    # Before runs: /v1/runs/estimate must not be read as a run id.
    app.include_router(usage.router)
    app.include_router(budgets.router)
    app.include_router(runs.router)
    app.include_router(tools.router)
    app.include_router(connections.router)
    app.include_router(customer_integrations.router)
    app.include_router(sites.router)
    app.include_router(files.router)
    app.include_router(webhook_secret.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(webhook_deliveries.router)
    app.include_router(agents.router)
    app.include_router(splits.router)
    app.include_router(gates.router)
    app.include_router(keys.router)
    app.include_router(audit.router)
    app.include_router(governance_policy.router)
    app.include_router(governance_holds.router)
    app.include_router(governance_deletions.router)
    app.include_router(activity.router)
    app.include_router(quotas.router)
    app.include_router(models.router)
    app.include_router(model_providers.router)
    app.include_router(triggers.router)
    app.include_router(evidence.router)
    app.include_router(signing_keys.router)
    # Before benchmarks: /v1/benchmarks/{id}/dashboard must not be read as a benchmark's path.
    app.include_router(quality.router)
    app.include_router(benchmarks.router)
    app.include_router(benchmark_scores.router)
    # Other systems' APIs over the same services (docs/dialects.md).
    app.include_router(kognitos.router)
    app.include_router(toolregistry.router)
    app.include_router(agdev.router)
    console.install(app)
    install_openapi(app)
    # Inside the proxy headers, outside the rest: a request's span covers all of its work.
    app.add_middleware(TraceRequests)
    # Outermost, so that every layer sees the client's scheme and address: a request that
    # reached a trusted proxy over https is https here (the console's Secure cookie).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app
