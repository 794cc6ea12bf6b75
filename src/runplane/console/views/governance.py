"""The Audit & Governance area: its entry, which opens on the activity list."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

router = APIRouter()
# Each tab's page (activity, policy, holds, exports) includes ``_governance_tabs.html``
# with ``tab`` set to its own path and ``section="governance"``.


@router.get("/governance")
async def governance_home() -> Response:
    """The area opens on the activity list."""
    return RedirectResponse("/console/governance/activity", status_code=303)
