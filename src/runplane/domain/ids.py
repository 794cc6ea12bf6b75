"""Prefixed, time-ordered ids: ``run_…``, ``agt_…``, ``rev_…``.

A millisecond timestamp followed by random bits, in Crockford base32, so that ids
sort by creation time and never collide across processes.
"""

import base64
import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# base64's RFC 4648 alphabet, mapped onto Crockford's: the encoding runs in C.
_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)
PREFIXES = frozenset({"run", "agt", "rev", "ten", "key", "stp", "apr", "rec"})


def new_id(prefix: str) -> str:
    """Return a new id such as ``run_01jf3k…`` (10 time chars + 16 random chars)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    # 50 bits of time and 80 random bits are 26 characters; padded to 160 bits for b32.
    value = ((ms & (2**50 - 1)) << 80 | rand) << 30
    text = base64.b32encode(value.to_bytes(20, "big")).decode().translate(_TO_CROCKFORD)
    return f"{prefix}_{text[:26]}"


def has_prefix(value: str, prefix: str) -> bool:
    """Tell whether ``value`` looks like an id of the given kind."""
    return value.startswith(prefix + "_") and len(value) == len(prefix) + 27
