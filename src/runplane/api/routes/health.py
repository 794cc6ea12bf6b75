"""``/healthz``: is this process up, and which executor is it."""

from fastapi import APIRouter

from runplane.api.deps import RuntimeDep
from runplane.version import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(rt: RuntimeDep) -> dict[str, object]:
    """Liveness: the version, the executor id, whether it runs agents, and its load."""
    return {
        "status": "ok",
        "version": __version__,
        "executor_id": rt.engine.executor_id,
        "worker": rt.settings.worker,
        "active_runs": rt.worker.executing,
        "agents": sorted(rt.project.agents),
    }
