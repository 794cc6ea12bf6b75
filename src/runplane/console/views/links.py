"""The page an approval link opens: see what is asked and decide, with no sign-in.

The link's token is the URL's fragment (``/console/approval-link#TOKEN``), which the
browser never sends; the page's script reads it and posts it in request bodies to
``/v1/runs/approval/view`` and ``/v1/runs/approval``. No server, proxy or ``Referer``
ever sees it in a URL.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from runplane.console.views.common import render

router = APIRouter()


@router.get("/approval-link")
async def approval_link_page(request: Request) -> Response:
    """The landing page of an approval link (the token stays in the fragment)."""
    response = render(request, "approval_link.html", None)
    # The page must not hand its URL to other sites, nor be kept by caches.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
