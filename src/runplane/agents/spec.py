"""The ``@agent`` decorator and the definition it attaches to an agent function."""

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from runplane.domain.errors import Invalid
from runplane.domain.policy import ApprovalRule, check_rules

AGENT_ATTR = "__runplane_agent__"
NAME_PATTERN = r"^[a-z][a-z0-9_\-]{0,63}$"


@dataclass
class AgentSpec:
    """What ``@agent`` knows about one agent function."""

    name: str
    fn: Callable[..., Awaitable[Any]]
    description: str | None = None
    input_model: type[BaseModel] | None = None
    input_schema: dict[str, Any] | None = None
    output: Literal["document", "json"] = "json"
    output_schema: dict[str, Any] | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    timeout_seconds: float = 3600.0
    kind: Literal["python", "langgraph", "steps"] = "python"
    integrations: list[str] | Literal["*"] = field(default_factory=list)
    approval_rules: list[ApprovalRule] = field(default_factory=list)
    plans_first: bool = False
    # Where the code lives, when not in ``fn`` (a hosted graph's ``file.py:attribute``).
    entrypoint: str | None = None
    _hash: str | None = field(default=None, repr=False, compare=False)

    def config(self) -> dict[str, Any]:
        """The configuration part of a revision: everything but the code."""
        return {
            "kind": self.kind,
            "description": self.description,
            "input_schema": self.input_schema,
            "output": self.output,
            "output_schema": self.output_schema,
            "variables": self.variables,
            "timeout_seconds": self.timeout_seconds,
            "integrations": self.integrations,
            "approval_rules": self.approval_rules,
            "plans_first": self.plans_first,
            "entrypoint": self.entrypoint or f"{self.fn.__module__}:{self.fn.__qualname__}",
        }

    def content_hash(self) -> str:
        """Hash the entrypoint module's source and the configuration (computed once)."""
        if self._hash is None:
            self._hash = self._compute_hash()
        return self._hash

    def _compute_hash(self) -> str:
        module = inspect.getmodule(self.fn)
        try:
            source = inspect.getsource(module) if module else ""
        except (OSError, TypeError):
            source = ""
        digest = hashlib.sha256(source.encode())
        digest.update(json.dumps(self.config(), sort_keys=True, default=str).encode())
        return digest.hexdigest()


def agent(
    name: str | None = None,
    *,
    description: str | None = None,
    input_schema: type[BaseModel] | dict[str, Any] | None = None,
    output: Literal["document", "json"] = "json",
    output_schema: type[BaseModel] | dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    timeout_seconds: float = 3600.0,
    integrations: list[str] | Literal["*"] | None = None,
    approval_rules: list[dict[str, Any]] | None = None,
    plans_first: bool = False,
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Declare an async function ``fn(ctx, input)`` as a runplane agent.

    ``integrations`` are the tool integrations its runs may use by default (``"*"``: all);
    ``approval_rules`` ask for approval of matching tool calls; ``plans_first`` agents
    record their plan before acting, and the run's create response carries it.
    """
    if output not in ("document", "json"):
        raise Invalid.field("output", "output must be 'document' or 'json'", output)

    def decorate(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"agent {fn.__name__!r} must be an async function")
        model = input_schema if _is_model(input_schema) else None
        spec = AgentSpec(
            name=name or fn.__name__,
            fn=fn,
            description=description or inspect.getdoc(fn),
            input_model=model,  # type: ignore[arg-type]
            input_schema=_json_schema(input_schema),
            output=output,
            output_schema=_json_schema(output_schema),
            variables=dict(variables or {}),
            timeout_seconds=timeout_seconds,
            integrations=integrations if integrations is not None else [],
            approval_rules=check_rules(list(approval_rules or [])),
            plans_first=plans_first,
        )
        setattr(fn, AGENT_ATTR, spec)
        return fn

    return decorate


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _json_schema(value: type[BaseModel] | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if _is_model(value):
        return value.model_json_schema()  # type: ignore[union-attr]
    if isinstance(value, dict):
        return value
    raise TypeError("a schema must be a pydantic model or a JSON Schema dict")
