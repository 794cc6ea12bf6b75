"""Prefixed, time-ordered ids: ``run_…``, ``agt_…``, ``rev_…``.

A millisecond timestamp followed by random bits, in Crockford base32, so that ids
sort by creation time and never collide across processes.
"""

import base64
import os
import time
import uuid

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# base64's RFC 4648 alphabet, mapped onto Crockford's: the encoding runs in C.
_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)
PREFIXES = frozenset({"run", "agt", "rev", "ten", "key", "stp", "apr", "rec", "sit", "fil"})


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


def _crockford_value(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + _ALPHABET.index(char)
    return value


def _crockford_text(value: int) -> str:
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def short_form(value: str, prefix: str) -> str | None:
    """The 26 characters after ``prefix_`` (an id in the form other systems accept)."""
    return value[len(prefix) + 1 :] if has_prefix(value, prefix) else None


def from_short_form(value: str, prefix: str) -> str | None:
    """The id whose short form is ``value``, or None if ``value`` cannot be one."""
    text = value.lower()
    if len(text) != 26 or any(c not in _ALPHABET for c in text):
        return None
    return f"{prefix}_{text}"


def uuid_form(value: str, prefix: str) -> str | None:
    """An id as a UUID (its 130 bits, whose top two are zero until the year 10889)."""
    short = short_form(value, prefix)
    if short is None or any(c not in _ALPHABET for c in short):
        return None
    number = _crockford_value(short)
    if number >> 128:
        return None
    return str(uuid.UUID(int=number))


def from_uuid_form(value: str, prefix: str) -> str | None:
    """The id a UUID stands for (``uuid_form`` reversed), or None if it is not a UUID."""
    try:
        number = uuid.UUID(value).int
    except ValueError:
        return None
    return f"{prefix}_{_crockford_text(number)}"
