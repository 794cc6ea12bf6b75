"""The tools and integrations the project loaded."""

from typing import Any

from runplane.services.runtime import Runtime


def list_tools(rt: Runtime) -> list[dict[str, Any]]:
    """Every loaded tool, by name."""
    return [spec.public() for _, spec in sorted(rt.project.tools.items())]


def list_integrations(rt: Runtime) -> list[dict[str, Any]]:
    """Every integration that some tool reaches, with its tools."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for tool in list_tools(rt):
        if tool["integration"]:
            groups.setdefault(tool["integration"], []).append(tool)
    return [
        {
            "name": name,
            "requires_auth": any(t["requires_auth"] for t in tools),
            "rate_limits": sorted({t["rate_limit"] for t in tools if t["rate_limit"]}),
            "tools": tools,
        }
        for name, tools in sorted(groups.items())
    ]
