"""What the console pages share: templates, filters, page rendering and error pages."""

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from runplane.console import session
from runplane.console.session import User
from runplane.domain.events import STATUS_LABELS
from runplane.domain.liveness import LIVENESS_HINTS
from runplane.domain.models import iso

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@functools.cache
def _markdown_it() -> "MarkdownIt":
    """The Markdown renderer, built on first use (its import is a tenth of a second)."""
    from markdown_it import MarkdownIt

    # Raw HTML in agent output is shown as text, never interpreted; links and images
    # only to web pages, mail addresses and this site.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.validateLink = lambda url: (  # type: ignore[method-assign]
        url.strip().lower().startswith(("http://", "https://", "mailto:", "/", "#"))
    )
    md.add_render_rule("image", _image)
    return md


def _image(
    renderer: "RendererHTML",
    tokens: Sequence["Token"],
    idx: int,
    options: "OptionsDict",
    env: "EnvType",
) -> str:
    """An image of this site as an image; one elsewhere as a link to it, never loaded.

    Loading it would tell its host who reads the run, and when (and could carry data
    out in its URL); the Content-Security-Policy blocks it too.
    """
    from markdown_it.common.utils import escapeHtml

    token = tokens[idx]
    src = token.attrGet("src") or ""
    if isinstance(src, str) and src.startswith(("/", "#")) and not src.startswith("//"):
        return renderer.image(tokens, idx, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env) or "image"
    label = escapeHtml(f"{alt} (external image)")
    opened = sum(t.type == "link_open" for t in tokens[:idx])
    closed = sum(t.type == "link_close" for t in tokens[:idx])
    if opened > closed:  # already inside a link: a link may not hold another
        return label
    href = escapeHtml(str(src))
    return f'<a href="{href}" rel="noopener noreferrer nofollow">{label}</a>'


def markdown(text: str | None) -> Markup:
    """Markdown to safe HTML (agent output may contain anything)."""
    return Markup(_markdown_it().render(text or ""))  # noqa: S704 - markdown-it escapes raw HTML


def when(value: datetime | None) -> str:
    """A time as people read it: ``2026-11-23 19:41:31`` (UTC)."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago(value: datetime | None) -> str:
    """How long ago, briefly: ``4 s ago``, ``3 min ago``."""
    if value is None:
        return "—"
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{max(0, int(seconds))} s ago"


def pretty(value: Any) -> str:
    """JSON, indented, for <pre> blocks (escaped by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


TEMPLATES.env.filters.update(markdown=markdown, when=when, ago=ago, pretty=pretty, iso=iso)
TEMPLATES.env.globals.update(STATUS_LABELS=STATUS_LABELS, LIVENESS_HINTS=LIVENESS_HINTS)


def render(
    request: Request, name: str, user: User | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page, with the signed-in user, the CSRF token every form needs, and the notice
    an action left for it (shown once)."""
    context.update(request=request, user=user)
    context.setdefault("csrf", user.csrf if user else "")
    context.setdefault("notice", session.take_notice(request))
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    if session.NOTICE_COOKIE in request.cookies:
        session.clear_cookie(response, session.NOTICE_COOKIE)
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page in the console's voice."""
    titles = {
        401: "Please sign in",
        403: "Not allowed",
        404: "Not found",
        409: "That cannot be done now",
        422: "Something in the form needs fixing",
    }
    title = titles.get(status, "Something went wrong" if status >= 500 else "That did not work")
    return render(request, "error.html", None, status=status, title=title, message=message)
