"""``/metrics``: this process's metrics for Prometheus (admin keys; docs/operations.md)."""

from fastapi import APIRouter
from fastapi.responses import Response

from runplane.api.deps import PrincipalDep, RuntimeDep
from runplane.services import metrics as svc

router = APIRouter(tags=["health"])

_TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus' text exposition format (version 0.0.4).", **_TEXT},
        401: {},
        403: {},
    },
)
async def metrics(rt: RuntimeDep, who: PrincipalDep) -> Response:
    """This process's metrics in Prometheus' text format; needs an admin key.

    With ``RUNPLANE_METRICS_BIND`` set, they are served on that address without a key,
    and not here.
    """
    return Response(await svc.scrape(rt, who), media_type=svc.CONTENT_TYPE)
