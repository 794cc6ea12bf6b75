"""JSON values: what runs take and give, what events carry, what JSON columns hold.

``JSON`` is any value ``json.loads`` can return; ``JSONObject`` is one of its objects.
Code that reads into a value of these types narrows it (``isinstance``) or goes
through the helpers here, which treat a value of the wrong shape as absent.
"""

import re
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


PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def not_plain(keys: Mapping[str, object] | None) -> list[str]:
    """The keys of a filter that are not plain names (``PLAIN_KEY``), to be refused.

    LangGraph's SQL savers and stores build SQL from filter keys (CVE-2025-67644) or refuse
    other keys with a ValueError: such a key is refused before it reaches them.
    """
    return [k for k in (keys or {}) if not PLAIN_KEY.fullmatch(k)]
