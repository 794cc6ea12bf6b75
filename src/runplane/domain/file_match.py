"""Which uploaded files an upload trigger fires for: a name glob and a media type pattern.

A glob is an ``fnmatch`` pattern over the file's name (no folders: a name has none),
compared in any case (``*.csv`` matches ``Sales.CSV``). A media type pattern is exact
(``text/csv``) or names a whole type (``text/*``); parameters (``; charset=…``) are ignored.
"""

import re
from fnmatch import fnmatchcase

from runplane.domain.errors import Invalid

_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]*"
_MEDIA_PATTERN = re.compile(rf"{_TOKEN}/(\*|{_TOKEN})")


def check_glob(glob: str) -> str:
    """A name glob as kept; 422 naming ``glob`` if it is empty, has a folder or an open ``[``."""
    if not glob.strip():
        raise Invalid.field("glob", "a glob matches file names; '' matches none", glob)
    if any(c in glob for c in "/\\\0"):
        raise Invalid.field("glob", "a glob matches a file's name, which has no folders", glob)
    if re.search(r"\[(?![^\]]*\])", glob):
        raise Invalid.field("glob", f"{glob!r} opens a '[' set it does not close", glob)
    return glob


def check_media_type(pattern: str) -> str:
    """A media type pattern as kept (lower case); 422 naming ``media_type`` if malformed."""
    kept = pattern.strip().lower()
    if not _MEDIA_PATTERN.fullmatch(kept):
        raise Invalid.field(
            "media_type",
            f"{pattern!r} is not a media type or a 'type/*' pattern (e.g. text/csv, text/*)",
            pattern,
        )
    return kept


def name_matches(glob: str | None, name: str) -> bool:
    """Whether a file name matches a glob (no glob: every name)."""
    return glob is None or fnmatchcase(name.lower(), glob.lower())


def media_type_matches(pattern: str | None, media_type: str) -> bool:
    """Whether a media type matches a pattern (no pattern: every type)."""
    if pattern is None:
        return True
    actual = media_type.split(";", 1)[0].strip().lower()
    if pattern.endswith("/*"):
        return actual.split("/", 1)[0] == pattern[:-2]
    return actual == pattern
