"""JSON values: what runs take and give, what events carry, what JSON columns hold.

``JSON`` is any value ``json.loads`` can return; ``JSONObject`` is one of its objects.
Code that reads into a value of these types narrows it (``isinstance``) or goes
through the helpers here, which treat a value of the wrong shape as absent.
"""

from collections.abc import Mapping
from typing import TypeAlias, overload

JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None
JSONObject: TypeAlias = dict[str, JSON]


@overload
def as_object(value: JSON) -> JSONObject: ...
@overload
def as_object(value: object) -> Mapping[str, object]: ...
def as_object(value: object) -> Mapping[str, object]:
    """``value`` if it is a JSON object (a mapping), else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []
