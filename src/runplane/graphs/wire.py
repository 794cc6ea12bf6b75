"""LangGraph objects as the Agent Protocol's JSON: values, state snapshots, checkpoints."""

import dataclasses
from datetime import datetime
from typing import Any

import orjson


def _default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "to_json") and hasattr(obj, "lc_serializable"):
        return obj.to_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode(errors="replace")
    return str(obj)


def dumps(value: Any) -> bytes:
    """JSON bytes for anything a graph may hold (messages, interrupts, dataclasses)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def jsonable(value: Any) -> Any:
    """Plain JSON data (dicts, lists, strings, numbers) for a graph value."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return orjson.loads(dumps(value))


def interrupt_json(interrupt: Any) -> dict[str, Any]:
    """One ``Interrupt`` as ``{"value", "id"}``."""
    return {
        "value": jsonable(getattr(interrupt, "value", None)),
        "id": getattr(interrupt, "id", ""),
    }


def checkpoint_json(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A checkpoint's config as the protocol's ``Checkpoint``."""
    if not config:
        return None
    conf = config.get("configurable", {})
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }


def state_json(snapshot: Any) -> dict[str, Any]:
    """A ``StateSnapshot`` as the protocol's ``ThreadState``."""
    created = snapshot.created_at
    if isinstance(created, datetime):
        created = created.isoformat()
    tasks = []
    for task in snapshot.tasks:
        sub = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "error": str(task.error) if task.error else None,
                "interrupts": [interrupt_json(i) for i in task.interrupts],
                "checkpoint": checkpoint_json(sub) if isinstance(sub, dict) else None,
                "state": state_json(sub) if sub is not None and not isinstance(sub, dict) else None,
                "result": jsonable(getattr(task, "result", None)),
            }
        )
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "checkpoint": checkpoint_json(snapshot.config),
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": created,
        "parent_checkpoint": checkpoint_json(snapshot.parent_config),
        "tasks": tasks,
        "interrupts": [interrupt_json(i) for i in getattr(snapshot, "interrupts", ())],
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    """The state of a thread no run has touched."""
    return {
        "values": {},
        "next": [],
        "checkpoint": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": None,
            "checkpoint_map": None,
        },
        "metadata": {},
        "created_at": None,
        "parent_checkpoint": None,
        "tasks": [],
        "interrupts": [],
    }
