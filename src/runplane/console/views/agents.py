"""The agents pages: the list, one agent with its revisions, and starting a run from a form.

The form is generated from the agent's input schema (JSON Schema): one field per
top-level property, typed inputs where the type is simple, JSON where it is not.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from runplane.console.session import User, UserDep, check_csrf, redirect_with_notice
from runplane.console.views.common import pretty, render
from runplane.console.views.editor import model_names
from runplane.console.views.run_models import credits_text
from runplane.console.views.step_run import (
    RunOptions,
    field_of,
    options_of,
    place_errors,
    read_options,
)
from runplane.domain.errors import Conflict, Invalid
from runplane.domain.roles import Permission
from runplane.schemas import RunCreate
from runplane.services import agents as svc
from runplane.services import gate as gate_svc
from runplane.services import runs as runs_svc
from runplane.services import usage as usage_svc

router = APIRouter()
PREFIX = "input."
LONG_TEXT = 200  # a string allowed to be longer than this gets a textarea
APPROVALS = {
    "NONE": "Never",
    "ON_TOOL_CALL": "Before each tool call",
    "ON_START": "Once, on its plan",
}


@dataclass
class Field:
    """One input of the start-a-run form."""

    name: str
    label: str
    widget: str  # text, textarea, number, checkbox, select, json
    required: bool = False
    hint: str = ""
    value: Any = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    kind: str = ""  # the JSON type: string, integer, number, boolean, enum, json
    choices: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The element id (labels and error messages point at it)."""
        return "f-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)

    @property
    def form_name(self) -> str:
        """The name of the form field."""
        return self.name if self.name == "input" else PREFIX + self.name


@router.get("/agents")
async def agents_page(request: Request, user: UserDep) -> Response:
    """Every agent of the tenant."""
    rows = await svc.list_agents(request.app.state.rt, user.who)
    agents = [{"row": r, "summary": _first_line(r["description"])} for r in rows]
    return render(request, "agents.html", user, agents=agents)


@router.get("/agents/{name}")
async def agent_page(request: Request, name: str, user: UserDep) -> Response:
    """One agent: what it is, its revisions, and a form to start a run."""
    agent, revisions, schema = await _load(request, user, name)
    options = options_of(agent, revisions, None)
    if options is not None:
        options.models = await model_names(request, user)
    return _agent(
        request, user, agent, revisions, schema, _fields(agent, schema), {}, "", "NONE", options
    )


@router.post("/agents/{name}/revisions/{revision_id}/publish")
async def publish(
    request: Request,
    name: str,
    revision_id: str,
    user: UserDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make a revision the one new runs use."""
    check_csrf(user, csrf)
    where = f"/console/agents/{quote(name)}"
    try:
        rev = await gate_svc.publish(request.app.state.rt, user.who, name, revision_id)
    except Conflict as exc:  # its replay gate failed (the report is on the gate's suite)
        return redirect_with_notice(request, where, f"Not published: {exc.message}")
    notice = f"Revision {rev['id']} is published: new runs of {name} use it."
    return redirect_with_notice(request, where, notice)


@router.post("/agents/{name}/runs")
async def start_run(request: Request, name: str, user: UserDep) -> Response:
    """Start a run from the form; a field in error brings the form back, values kept."""
    form = await request.form()
    check_csrf(user, str(form.get("csrf") or ""))
    user.who.require(Permission.CREATE_RUNS)  # the 403 page, before the form is read
    agent, revisions, schema = await _load(request, user, name)
    fields = _fields(agent, schema)
    run_name = str(form.get("name") or "").strip()
    approval = str(form.get("approval") or "NONE")
    if approval not in APPROVALS:
        approval = "NONE"
    errors: dict[str, str] = {}
    value = _read(fields, form, errors)
    options = options_of(agent, revisions, form)
    if options is not None:
        options.models = await model_names(request, user)
    extra = read_options(options, form, errors)
    new = estimate = None
    if not errors:
        try:
            body = RunCreate.model_validate(
                {
                    "agent_id": agent["name"],
                    "name": run_name or None,
                    "input": value,
                    "trigger": "manual",
                    "approval": approval,
                    **extra,
                }
            )
            if form.get("action") == "estimate":
                found = await usage_svc.estimate_run(request.app.state.rt, user.who, body)
                estimate = _estimate_view(found)
            else:
                new = await runs_svc.create_run(request.app.state.rt, user.who, body)
        except ValidationError as exc:
            for e in exc.errors():
                errors[str(e["loc"][0]) if e["loc"] else ""] = e["msg"]
        except Invalid as exc:
            field_name = _field_of(exc, fields)
            errors[field_name or field_of(exc, options)] = exc.message
    if new is not None:
        return RedirectResponse(f"/console/runs/{new['id']}", status_code=303)
    for f in fields:
        f.error = errors.pop(f.name, "")
    place_errors(options, errors)
    for key in [k for k in errors if k not in ("", "name")]:
        errors[""] = f"{key}: {errors.pop(key)}"
    return _agent(
        request,
        user,
        agent,
        revisions,
        schema,
        fields,
        errors,
        run_name,
        approval,
        options,
        estimate=estimate,
        status=422 if estimate is None else 200,
    )


def _estimate_view(found: Mapping[str, Any]) -> dict[str, Any]:
    """An estimate as the form shows it: the total and each expected model call."""
    steps = []
    for step in found.get("steps") or []:
        usage = step.get("usage") or {}
        steps.append(
            {
                "name": step.get("name"),
                "model": step.get("model"),
                "input": usage.get("input_tokens") or 0,
                "output": usage.get("output_tokens") or 0,
                "credits": credits_text(step.get("credits")),
            }
        )
    return {"credits": credits_text(found.get("credits")), "steps": steps}


async def _load(request: Request, user: User, name: str) -> tuple[Any, list[Any], Any]:
    """The agent, its revisions, and the input schema new runs are checked against."""
    rt = request.app.state.rt
    agent = await svc.find_agent(rt, user.who, name)
    revisions = await svc.list_revisions(rt, user.who, agent["id"])
    published = next((r for r in revisions if r["id"] == agent["published_revision_id"]), None)
    if published is None and agent["kind"] == "steps" and revisions:
        published = revisions[0]  # a steps agent's draft runs too: the form is its newest
    config = (published or agent)["config"] or {}
    return agent, revisions, config.get("input_schema")


def _agent(
    request: Request,
    user: User,
    agent: Any,
    revisions: list[Any],
    schema: Any,
    fields: list[Field],
    errors: dict[str, str],
    run_name: str,
    approval: str,
    options: RunOptions | None = None,
    estimate: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "agent.html",
        user,
        status=status,
        agent=agent,
        revisions=revisions,
        schema=schema,
        fields=fields,
        errors=errors,
        run_name=run_name,
        approval=approval,
        APPROVALS=APPROVALS,
        summary=_first_line(agent["description"]),
        options=options,
        estimate=estimate,
    )


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


# -- the form from the schema ------------------------------------------------------------


def _fields(agent: Any, schema: Any) -> list[Field]:
    """The form's fields: one per top-level property, or one JSON field for the whole input."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if agent["kind"] == "langgraph" or not isinstance(props, dict) or not props:
        typed = isinstance(schema, dict) and schema.get("type") == "object"
        return [
            Field(
                name="input",
                label="Input",
                widget="json",
                kind="json",
                required=schema is not None,
                hint="The run's input, as JSON.",
                value="{}" if typed or schema is None else "",
                attrs={"rows": 8},
            )
        ]
    required = set(schema.get("required") or [])
    return [_field(name, _resolve(prop, schema), name in required) for name, prop in props.items()]


def _resolve(prop: Any, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """A property's schema with local ``$ref``s, one-item ``allOf`` and ``| None`` unwrapped."""
    if not isinstance(prop, dict) or depth > 10:
        return {}
    out = dict(prop)
    ref = out.pop("$ref", None)
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        out = {**_resolve(target, root, depth + 1), **out}
    for key in ("allOf", "anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list):
            real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            if len(real) == 1 and (key != "allOf" or len(options) == 1):
                del out[key]
                out = {**_resolve(real[0], root, depth + 1), **out}
                if len(real) < len(options):
                    out["nullable"] = True
    types = out.get("type")
    if isinstance(types, list):
        real_types = [t for t in types if t != "null"]
        out["type"] = real_types[0] if len(real_types) == 1 else None
    return out


def _field(name: str, prop: dict[str, Any], required: bool) -> Field:
    kind = prop.get("type")
    label = str(prop.get("title") or name)
    hint = str(prop.get("description") or "")
    has_default = "default" in prop
    default = prop.get("default")
    f = Field(name=name, label=label, widget="json", required=required, hint=hint, kind="json")
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        f.widget = f.kind = "select"
        f.choices = {str(v): v for v in prop["enum"]}
        f.options = [(k, k) for k in f.choices]
        f.value = str(default) if has_default else ""
    elif kind == "boolean":
        f.widget = f.kind = "checkbox"
        f.value = bool(default)
    elif kind in ("integer", "number"):
        f.widget, f.kind = "number", kind
        f.value = "" if default is None else str(default)
        f.attrs["step"] = "1" if kind == "integer" else "any"
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(prop.get(key), int | float):
                f.attrs[attr] = prop[key]
    elif kind == "string":
        f.kind = "string"
        long = (
            prop.get("format") in ("textarea", "markdown", "multiline")
            or (prop.get("maxLength") or 0) > LONG_TEXT
        )
        f.widget = "textarea" if long else "text"
        f.value = "" if default is None else str(default)
        if isinstance(prop.get("maxLength"), int):
            f.attrs["maxlength"] = prop["maxLength"]
        if isinstance(prop.get("minLength"), int) and prop["minLength"] > 0:
            f.attrs["minlength"] = prop["minLength"]
        if prop.get("format") in ("email", "url", "date", "time"):
            f.attrs["type"] = {"url": "url", "email": "email", "date": "date", "time": "time"}[
                prop["format"]
            ]
    else:
        f.value = pretty(default) if has_default else ""
        f.hint = (hint + " " if hint else "") + (
            "A JSON list." if kind == "array" else "JSON." if kind != "object" else "A JSON object."
        )
        f.attrs["rows"] = 6
    return f


def _read(fields: list[Field], form: Any, errors: dict[str, str]) -> Any:
    """The run's input from the posted form, typed per field; errors by field name."""
    if len(fields) == 1 and fields[0].name == "input" and fields[0].kind == "json":
        f = fields[0]
        f.value = str(form.get("input") or "")
        if not f.value.strip():
            return None
        return _parse_json(f, errors)
    value: dict[str, Any] = {}
    for f in fields:
        raw = form.get(f.form_name)
        if f.kind == "checkbox":
            f.value = raw is not None
            value[f.name] = f.value
            continue
        f.value = str(raw or "")
        text = f.value if f.kind == "string" else f.value.strip()
        if not text:
            if f.required:
                errors[f.name] = "This is required."
            continue
        if f.kind == "string":
            value[f.name] = text
        elif f.kind == "select":
            if text not in f.choices:
                errors[f.name] = "Choose one of the options."
            else:
                value[f.name] = f.choices[text]
        elif f.kind in ("integer", "number"):
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                errors[f.name] = "This must be a number."
                continue
            if f.kind == "integer" and not number.is_integer():
                errors[f.name] = "This must be a whole number."
                continue
            is_whole = number.is_integer() and "." not in text and "e" not in text.lower()
            value[f.name] = int(number) if f.kind == "integer" or is_whole else number
        else:
            parsed = _parse_json(f, errors)
            if f.name not in errors:
                value[f.name] = parsed
    return value


def _parse_json(f: Field, errors: dict[str, str]) -> Any:
    try:
        return json.loads(f.value)
    except json.JSONDecodeError as exc:
        errors[f.name] = (
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        )
        return None


def _field_of(exc: Invalid, fields: list[Field]) -> str:
    """The form field an input error is about ('' for the form as a whole)."""
    name = str(exc.details[0].get("name", "")) if exc.details else ""
    names = {f.name for f in fields}
    if name == "input" and "input" in names:
        return "input"
    if name.startswith(PREFIX):
        head = name[len(PREFIX) :].split(".")[0]
        if head in names:
            return head
        if "input" in names:
            return "input"
    return "name" if name == "name" else ""
