"""Media types told from a file's bytes, and whether a declared type tells the truth.

A short table of signatures and a look inside zip archives cover what runs read and
write (office files, images, PDF, archives, text); anything else is
``application/octet-stream``. Text is UTF-8 without NUL bytes; its exact kind (CSV,
JSON, Markdown) comes from the declared type or the file's name.
"""

import io
import mimetypes
import zipfile

from runplane.domain.errors import Invalid

OCTET = "application/octet-stream"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ZIP = "application/zip"

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),  # an empty archive
)
# The folder an Office Open XML package keeps its main part in.
_OFFICE_PARTS = (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX))
_KNOWN = frozenset({t for _, t in _SIGNATURES} | {t for _, t in _OFFICE_PARTS} | {"image/webp"})
# Declared types that say nothing about the content.
_VAGUE = frozenset({"", OCTET, "binary/octet-stream", "application/x-www-form-urlencoded"})
# Text that is not ``text/*``.
_TEXT_LIKE = frozenset(
    {"application/json", "application/xml", "application/x-ndjson", "application/yaml"}
)


def sniff(data: bytes) -> str:
    """The media type the bytes themselves show (``text/plain`` for any UTF-8 text)."""
    for magic, media_type in _SIGNATURES:
        if data.startswith(magic):
            return _zip_kind(data) if media_type == ZIP else media_type
    if data[:12].startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return OCTET
        return "text/plain"
    return OCTET


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return OCTET
    if "[Content_Types].xml" in names:
        for folder, media_type in _OFFICE_PARTS:
            if any(n.startswith(folder) for n in names):
                return media_type
    return ZIP


def _is_text(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_LIKE
        or media_type.endswith(("+json", "+xml"))
    )


def media_type_of(data: bytes, declared: str | None, name: str, field: str = "file") -> str:
    """The media type to record for ``data``; Invalid naming ``field`` if ``declared`` lies.

    A declared type must agree with what the bytes show: a PNG declared as a PDF, or a
    binary declared as text, is refused. Text keeps its declared kind (``text/csv``), or
    the one its name suggests.
    """
    seen = sniff(data)
    claimed = (declared or "").split(";", 1)[0].strip().lower()
    if claimed in _VAGUE:
        claimed = ""
    if seen == "text/plain":
        if claimed and not _is_text(claimed):
            raise _lie(field, claimed, "text")
        guessed = mimetypes.guess_type(name)[0] or ""
        return claimed or (guessed if _is_text(guessed) else "text/plain")
    if seen == OCTET:
        # Bytes of a kind not in the table: a type the table knows, or text, is a lie;
        # any other claim (audio/mpeg) cannot be checked and is kept.
        if claimed and (claimed in _KNOWN or _is_text(claimed)):
            raise _lie(field, claimed, "binary data of another kind")
        return claimed or OCTET
    if claimed and claimed != seen and not (seen == ZIP and claimed.endswith("zip")):
        raise _lie(field, claimed, seen)
    return seen


def _lie(field: str, claimed: str, seen: str) -> Invalid:
    return Invalid(
        f"{field}: declared as {claimed} but its content is {seen}",
        [{"name": field, "value": claimed}],
    )
