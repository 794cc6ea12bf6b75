"""``/healthz``: is this process up; with an admin key, which executor it is and its load."""

from fastapi import APIRouter

from runplane.api.deps import OptionalPrincipalDep, RuntimeDep
from runplane.domain.roles import Permission
from runplane.version import __version__

router = APIRouter(tags=["health"])


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
