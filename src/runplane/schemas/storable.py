"""What a request body may hold: JSON that every database can keep as it was sent.

Python's JSON parser accepts more than the stores do: integers of any size, ``NaN``,
strings with NUL characters or lone surrogates, nesting of any depth. Each would fail
deep in a write (orjson stops at 64-bit integers and 255 levels, Postgres refuses NUL
in text) and answer 500, so request bodies are checked for them first, and refused
with a 422 that says where.
"""

import math

INT64 = (-(2**63), 2**63 - 1)
# The bound of counts and offsets: what an integer column holds on every database.
INT32_MAX = 2**31 - 1
MAX_DEPTH = 64


def check_storable(value: object, where: str = "body", depth: int = 0) -> None:
    """Raise ``ValueError`` naming the first place ``value`` holds what cannot be stored."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise ValueError(f"{where}: an integer must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: a number must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                _check_text(key, f"{where} (a key)")
            check_storable(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_storable(item, f"{where}[{i}]", depth + 1)


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{where}: text may not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where}: text must be valid Unicode (no lone surrogates)") from None
