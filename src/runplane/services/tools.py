"""The tools and integrations the project loaded."""

from runplane.domain.json import JSON, JSONObject
from runplane.services.runtime import Runtime


def list_tools(rt: Runtime) -> list[JSONObject]:
    """Every loaded tool, by name."""
    return [spec.public() for _, spec in sorted(rt.project.tools.items())]


def list_integrations(rt: Runtime) -> list[JSONObject]:
    """Every integration that some tool reaches, with its tools."""
    tools: dict[str, list[JSON]] = {}
    needs_auth: set[str] = set()
    limits: dict[str, set[str]] = {}
    for _, spec in sorted(rt.project.tools.items()):
        name = spec.integration
        if name:
            tools.setdefault(name, []).append(spec.public())
            if spec.requires_auth:
                needs_auth.add(name)
            if spec.rate_limit is not None:
                limits.setdefault(name, set()).add(spec.rate_limit.text)
    return [
        {
            "name": name,
            "requires_auth": name in needs_auth,
            "rate_limits": [*sorted(limits.get(name, set()))],
            "tools": tools[name],
        }
        for name in sorted(tools)
    ]
