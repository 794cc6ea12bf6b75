"""Probes: ``/healthz`` (up, and for admins which executor), ``/livez`` and ``/readyz``."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from runplane.api.deps import OptionalPrincipalDep, RuntimeDep
from runplane.domain.roles import Permission
from runplane.schemas.health import Liveness, Readiness
from runplane.services import health as svc
from runplane.version import __version__

router = APIRouter(tags=["health"])
# What a check says when it is not in the way.
READY = frozenset({"ok", "not a worker"})


@router.get("/healthz")
async def healthz(rt: RuntimeDep, who: OptionalPrincipalDep) -> dict[str, object]:
    """Liveness, for anyone: the status and the version.

    An admin key also sees how this process is deployed (its executor id, which names
    the host; whether it runs agents; its load; the agents it loaded). A wrong key is a
    401, as everywhere.
    """
    health: dict[str, object] = {"status": "ok", "version": __version__}
    # Admin keys are the ones that manage the server's keys: the operator's view.
    if who is not None and who.can(Permission.MANAGE_KEYS):
        health.update(
            executor_id=rt.engine.executor_id,
            role=rt.settings.role,
            worker=rt.settings.executes,
            active_runs=rt.worker.executing,
            agents=sorted(rt.project.agents),
        )
    return health


@router.get("/livez", response_model=Liveness)
async def livez() -> Liveness:
    """The process answers (an orchestrator's liveness probe): no database, no key."""
    return Liveness()


@router.get("/readyz", response_model=Readiness, responses={503: {}})
async def readyz(rt: RuntimeDep) -> Readiness | JSONResponse:
    """Ready for traffic: the database answers, its schema is current, the worker beats.

    A 503, in the error model, says why: its details name ``status`` (``unready``, or
    ``draining`` once SIGTERM began a graceful shutdown) and what each check found.
    """
    status, checks = await svc.readiness(rt)
    if status == "ready":
        return Readiness(status="ready", checks=checks)
    wrong = [f"{name}: {found}" for name, found in checks.items() if found not in READY]
    body = {
        "status_code": 503,
        "message": f"not ready ({status})" + (": " + "; ".join(wrong) if wrong else ""),
        "details": [{"name": "status", "value": status}]
        + [{"name": name, "value": found} for name, found in checks.items()],
    }
    return JSONResponse(body, status_code=503)
