"""Prefixed, time-ordered ids: ``run_…``, ``agt_…``, ``rev_…``.

A millisecond timestamp followed by random bits, in Crockford base32, so that ids
sort by creation time and never collide across processes.
"""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
PREFIXES = frozenset({"run", "agt", "rev", "ten", "key", "stp", "apr", "rec"})


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return a new id such as ``run_01jf3k…`` (10 time chars + 16 random chars)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_b32(ms, 10)}{_b32(rand, 16)}"


def has_prefix(value: str, prefix: str) -> bool:
    """Tell whether ``value`` looks like an id of the given kind."""
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27
