"""The ``@tool`` decorator: a function agents may call through ``ctx.tool``.

A tool's JSON Schema comes from its type hints; a parameter annotated ``ToolContext``
is not an argument but receives the call's context (the acting user's credential, the
tool data store).
"""

import builtins
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from runplane.domain.errors import Invalid
from runplane.domain.policy import RateLimit, parse_rate_limit

TOOL_ATTR = "__runplane_tool__"


class Records(Protocol):
    """A small per-tenant document store that tools may keep their data in."""

    async def add(self, collection: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store a document; return it with its ``id`` and ``created_at``."""

    async def list(self, collection: str) -> "builtins.list[dict[str, Any]]":
        """Every document of a collection, oldest first."""


@dataclass
class ToolContext:
    """What a tool receives besides its arguments: who it acts for, and with what.

    ``idempotency_key`` names this call of the run, the same on every attempt and on any
    worker (a retry after a crash, a takeover): give it to an external API that drops
    repeats, and a call that ran twice (one attempt cut off in it) takes effect once.
    """

    run_id: str
    tenant_id: str
    user_id: str | None
    integration: str | None
    credential: str | None
    records: Records
    idempotency_key: str = ""


@dataclass
class ToolSpec:
    """What ``@tool`` knows about one tool function."""

    name: str
    fn: Callable[..., Any]
    description: str
    integration: str | None
    requires_auth: bool
    rate_limit: RateLimit | None
    idempotent: bool
    always_approve: bool
    reconcile: Callable[..., Any] | None
    arguments: type[BaseModel]
    context_param: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check arguments against the signature; ``Invalid`` names the field."""
        try:
            model = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise Invalid(
                f"{self.name}: {name}: {first['msg']}",
                [{"name": f"arguments.{name}", "value": first.get("input")}],
            ) from exc
        return model.model_dump(mode="json")

    def public(self) -> dict[str, Any]:
        """The tool as ``GET /v1/tools`` lists it."""
        return {
            "name": self.name,
            "description": self.description,
            "integration": self.integration,
            "requires_auth": self.requires_auth,
            "rate_limit": self.rate_limit.text if self.rate_limit else None,
            "idempotent": self.idempotent,
            "always_approve": self.always_approve,
            "parameters": self.parameters,
        }


def tool(
    name: str | None = None,
    *,
    integration: str | None = None,
    requires_auth: bool = False,
    rate_limit: str | None = None,
    idempotent: bool = False,
    always_approve: bool = False,
    reconcile: Callable[..., Any] | None = None,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a function as a tool that agents call with ``ctx.tool(name, **args)``.

    ``requires_auth`` tools get the acting user's credential for ``integration``;
    ``idempotent=False`` tools are journaled so that a crash never repeats them blindly;
    ``reconcile(tool_ctx, **args)`` may settle such an in-doubt call by itself.
    """
    if requires_auth and not integration:
        raise Invalid.field("integration", "a tool that requires auth needs an integration")
    limit = parse_rate_limit(rate_limit) if rate_limit else None

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        arguments, context_param = _arguments_model(fn)
        spec = ToolSpec(
            name=name or fn.__name__,
            fn=fn,
            description=description or inspect.getdoc(fn) or "",
            integration=integration,
            requires_auth=requires_auth,
            rate_limit=limit,
            idempotent=idempotent,
            always_approve=always_approve,
            reconcile=reconcile,
            arguments=arguments,
            context_param=context_param,
            parameters=arguments.model_json_schema(),
        )
        setattr(fn, TOOL_ATTR, spec)
        return fn

    return decorate


def _arguments_model(fn: Callable[..., Any]) -> tuple[type[BaseModel], str | None]:
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    context_param = None
    for param in inspect.signature(fn).parameters.values():
        hint = hints.get(param.name, Any)
        if hint is ToolContext:
            context_param = param.name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__!r}: *args and **kwargs have no schema")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hint, default)
    model = create_model(
        f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model, context_param
