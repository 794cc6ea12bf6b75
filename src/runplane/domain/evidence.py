"""Evidence bundles: the zip format (a public contract), its writer, and its offline check.

An evidence bundle lets someone who does not trust the server check a run's record:
every member is listed with its sha256 in ``manifest.json``, the manifest is signed with
the tenant's Ed25519 key, and each run's event log carries its own hash chain. Checking
needs this module, the bundle and the tenant's public key: no server, no database.

Format ``runplane-evidence/1`` (a zip; members in this order)::

    runs/<run_id>/run.json        the run as the API shows it to the exporting key (hidden
                                  ``context`` only for admin keys), with ``policy_version``,
                                  ``revision_id`` and ``revision_hash``
    runs/<run_id>/revision.json   {"id", "agent_id", "hash", "hash_of", "config", ...}: the
                                  agent revision the run used; ``hash`` is the revision's
                                  stored content hash (``hash_of`` says over what)
    runs/<run_id>/events.jsonl    one event per line: seq, type, at (as hashed), data, hash,
                                  prev_hash; ``domain.events.verify_chain`` checks them
    runs/<run_id>/steps.json      the steps: name, status, output, error, model, usage, times
    runs/<run_id>/sources.json    the sources the run cited (its ``source`` events)
    runs/<run_id>/approvals.json  each approval: request, decision, who decided it
                                  (``decided_by``, ``decided_by_key_id``), how
                                  (``decided_via``: api, console, link), when, comment
    runs/<run_id>/files.json      the files the run read or made: id, name, media_type,
                                  size, sha256, step, and the ``member`` holding the bytes
    runs/<run_id>/files/<file_id>/<name>   each file's bytes
    policy/<version>.json         each governance policy version a run names
    manifest.json                 see below
    manifest.sig                  base64 Ed25519 signature of manifest.json's exact bytes
                                  (when the tenant's policy has signing enabled)
    signing_key.pem               the signing public key, for convenience only: pin the
                                  key you got from the tenant (``--key``) to trust it

``manifest.json`` is ``{"format", "created_at", "tenant", "exported_by", "query", "runs",
"members": [{"path", "sha256", "size"}], "chains": {run_id: {"events", "head"}},
"signing": {"key_id", "algorithm": "Ed25519"} | null}``; ``members`` lists every member
but ``manifest.json`` and ``manifest.sig``.
"""

import base64
import hashlib
import io
import json
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runplane.domain.events import ChainLink, verify_chain
from runplane.domain.json import JSON, JSONObject, as_list, as_object

FORMAT = "runplane-evidence/1"
ALGORITHM = "Ed25519"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "signing_key.pem"
UNLISTED = frozenset({MANIFEST, SIGNATURE})
# Zip members carry no real times: the same content makes the same bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")


def json_bytes(value: object) -> bytes:
    """A JSON member's bytes: sorted keys, indented, UTF-8 (stable for the same value)."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, default=str)
    return (text + "\n").encode()


def canonical_hash(value: object) -> str:
    """The sha256 of a value's canonical JSON (sorted keys, no spaces, UTF-8)."""
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def safe_name(name: str) -> str:
    """A file's name as a zip member's last part: no folders, nothing a zip tool would abuse."""
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "file"
    return cleaned[:200]


# -- keys ------------------------------------------------------------------------------


def new_key_pair() -> tuple[str, str]:
    """A new Ed25519 key pair: (private PEM, PKCS#8; public PEM, SubjectPublicKeyInfo)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, public_pem_of(private)


def public_pem_of(private: Ed25519PrivateKey) -> str:
    """The public half of a private key, as PEM."""
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(frozen=True)
class Signer:
    """Signs manifests with one key of a tenant."""

    key_id: str
    private_pem: str

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``."""
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"signing key {self.key_id} is not an Ed25519 key")
        return key.sign(data)

    @property
    def public_pem(self) -> str:
        """The public key that checks this signer's signatures."""
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return public_pem_of(key)


# -- writing ---------------------------------------------------------------------------


class BundleWriter:
    """Writes a bundle's members to a binary file, hashing each as it goes.

    Members are written in the order they are added (the builder adds them in a fixed
    order); ``finish`` writes the manifest, and its signature when given a signer.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)
        self.members: list[JSONObject] = []
        self._paths: set[str] = set()

    def add(self, path: str, data: bytes, *, compress: bool = True) -> None:
        """Add one member (``compress=False`` for bytes already compressed)."""
        if path in self._paths or path in UNLISTED:
            raise ValueError(f"bundle member {path} is written twice")
        self._paths.add(path)
        self._write(path, data, compress=compress)
        digest = hashlib.sha256(data).hexdigest()
        self.members.append({"path": path, "sha256": digest, "size": len(data)})

    def add_json(self, path: str, value: object) -> None:
        """Add one JSON member."""
        self.add(path, json_bytes(value))

    def add_lines(self, path: str, values: Iterable[object]) -> None:
        """Add one JSON Lines member (compact lines, sorted keys)."""
        lines = (
            json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
            for v in values
        )
        self.add(path, "".join(line + "\n" for line in lines).encode())

    def finish(self, manifest: JSONObject, signer: Signer | None) -> bytes:
        """Write the manifest (with ``members`` and ``signing`` filled in) and its signature."""
        manifest = {
            **manifest,
            "format": FORMAT,
            "members": list(self.members),
            "signing": None
            if signer is None
            else {"key_id": signer.key_id, "algorithm": ALGORITHM},
        }
        if signer is not None:
            self._write(PUBLIC_KEY, signer.public_pem.encode(), compress=True)
            manifest["members"] = [*self.members, _listing(PUBLIC_KEY, signer.public_pem.encode())]
        body = json_bytes(manifest)
        self._write(MANIFEST, body, compress=True)
        if signer is not None:
            self._write(SIGNATURE, base64.b64encode(signer.sign(body)) + b"\n", compress=False)
        self._zip.close()
        return body

    def _write(self, path: str, data: bytes, *, compress: bool) -> None:
        info = zipfile.ZipInfo(path, date_time=_EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, data)


def _listing(path: str, data: bytes) -> JSONObject:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


# -- checking --------------------------------------------------------------------------

ProblemKind = Literal[
    "unreadable",  # the file cannot be read
    "not_a_zip",
    "no_manifest",
    "bad_manifest",  # not JSON, or not this format
    "signature_missing",  # the manifest says it is signed, there is no manifest.sig
    "signature_invalid",  # manifest.sig does not match manifest.json
    "wrong_key",  # signed, but not by a key that was pinned
    "unsigned",  # a key was pinned, the bundle is not signed
    "member_missing",  # listed in the manifest, not in the zip
    "member_extra",  # in the zip, not listed
    "member_hash",  # its bytes are not the ones listed
    "file_hash",  # a file's bytes are not the sha256 its record gives
    "chain_break",  # a run's event log does not verify
    "chain_count",  # a run's log is not as long as the manifest says
]
SignatureStatus = Literal["valid", "unpinned", "unsigned", "invalid", "wrong_key", "unchecked"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: what kind, where, and in words."""

    kind: ProblemKind
    detail: str
    member: str | None = None
    run: str | None = None

    def as_dict(self) -> JSONObject:
        """The problem as JSON."""
        return {"kind": self.kind, "detail": self.detail, "member": self.member, "run": self.run}


@dataclass
class Verdict:
    """The outcome of checking a bundle: ``ok`` when nothing is wrong."""

    readable: bool = True
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signature: SignatureStatus = "unchecked"
    key_id: str | None = None
    runs: int = 0
    members: int = 0
    events: int = 0
    bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when the bundle is whole and (if signed) signed as pinned."""
        return self.readable and not self.problems

    def as_dict(self) -> JSONObject:
        """The verdict as JSON (``runplane evidence verify --json``)."""
        return {
            "ok": self.ok,
            "verdict": "VALID" if self.ok else "INVALID",
            "readable": self.readable,
            "signature": self.signature,
            "key_id": self.key_id,
            "runs": self.runs,
            "members": self.members,
            "events": self.events,
            "bytes": self.bytes,
            "problems": [p.as_dict() for p in self.problems],
            "warnings": list(self.warnings),
        }


Source = str | os.PathLike[str] | bytes | IO[bytes]


def verify_bundle(source: Source, public_keys: Sequence[str | bytes] | None = None) -> Verdict:
    """Check a bundle offline: its signature (against ``public_keys``, PEM, when given),
    every member's sha256, every file's recorded hash, and every run's event chain."""
    verdict = Verdict()
    try:
        archive = _open(source)
    except FileNotFoundError:
        return _unreadable(verdict, "unreadable", f"no such file: {source!s}")
    except OSError as exc:
        return _unreadable(verdict, "unreadable", f"cannot read the bundle: {exc}")
    except zipfile.BadZipFile:
        return _unreadable(verdict, "not_a_zip", "the bundle is not a zip file")
    with archive:
        _check(
            archive, verdict, [k.encode() if isinstance(k, str) else k for k in public_keys or []]
        )
    return verdict


def _open(source: Source) -> zipfile.ZipFile:
    if isinstance(source, bytes | bytearray):
        return zipfile.ZipFile(io.BytesIO(source))
    if isinstance(source, str | os.PathLike):
        return zipfile.ZipFile(os.fspath(source))
    return zipfile.ZipFile(source)


def _unreadable(verdict: Verdict, kind: ProblemKind, detail: str) -> Verdict:
    verdict.readable = kind != "unreadable" and kind != "not_a_zip"
    verdict.problems.append(Problem(kind, detail))
    return verdict


def _check(archive: zipfile.ZipFile, verdict: Verdict, pinned: list[bytes]) -> None:
    names = archive.namelist()
    verdict.bytes = sum(i.file_size for i in archive.infolist())
    if MANIFEST not in names:
        verdict.problems.append(Problem("no_manifest", "the bundle has no manifest.json"))
        return
    body = archive.read(MANIFEST)
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        verdict.problems.append(Problem("bad_manifest", f"manifest.json is not JSON: {exc}"))
        return
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = as_object(manifest).get("format")
        verdict.problems.append(
            Problem("bad_manifest", f"manifest.json is not {FORMAT} (format: {found!r})")
        )
        return
    _check_signature(archive, names, body, manifest, pinned, verdict)
    digests = _check_members(archive, names, manifest, verdict)
    _check_files(archive, manifest, digests, verdict)
    _check_chains(archive, manifest, verdict)


def _check_signature(
    archive: zipfile.ZipFile,
    names: list[str],
    body: bytes,
    manifest: JSONObject,
    pinned: list[bytes],
    verdict: Verdict,
) -> None:
    signing = manifest.get("signing")
    verdict.key_id = str(as_object(signing).get("key_id") or "") or None
    if SIGNATURE not in names:
        if signing:
            verdict.signature = "invalid"
            verdict.problems.append(
                Problem(
                    "signature_missing",
                    "the manifest says it is signed; manifest.sig is missing",
                    SIGNATURE,
                )
            )
        elif pinned:
            verdict.signature = "unsigned"
            verdict.problems.append(
                Problem("unsigned", "a key was pinned but the bundle is not signed", MANIFEST)
            )
        else:
            verdict.signature = "unsigned"
            verdict.warnings.append(
                "the bundle is not signed (signing is off in the tenant's policy): its hashes "
                "show that it is whole, not who made it"
            )
        return
    try:
        signature = base64.b64decode(archive.read(SIGNATURE).strip(), validate=True)
    except ValueError:
        signature = b""
    own = archive.read(PUBLIC_KEY) if PUBLIC_KEY in names else None
    if pinned:
        if any(_signed_by(key, body, signature) for key in pinned):
            verdict.signature = "valid"
            return
        if own is not None and _signed_by(own, body, signature):
            verdict.signature = "wrong_key"
            verdict.problems.append(
                Problem(
                    "wrong_key",
                    "the signature does not match the pinned key: manifest.json was signed "
                    "by another key (the one in signing_key.pem)",
                    SIGNATURE,
                )
            )
            return
        verdict.signature = "invalid"
        verdict.problems.append(
            Problem(
                "signature_invalid",
                "the signature does not match the pinned key nor the bundle's own: "
                "manifest.json was changed after it was signed",
                MANIFEST,
            )
        )
        return
    if own is not None and _signed_by(own, body, signature):
        verdict.signature = "unpinned"
        verdict.warnings.append(
            "signature valid for the key inside the bundle, which you have not pinned "
            "(pass the tenant's public key with --key to trust it)"
        )
        return
    verdict.signature = "invalid"
    verdict.problems.append(
        Problem(
            "signature_invalid",
            "the signature does not match manifest.json: it was changed after it was signed",
            MANIFEST,
        )
    )


def _signed_by(pem: bytes, body: bytes, signature: bytes) -> bool:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return False
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return False
    return True


def _check_members(
    archive: zipfile.ZipFile, names: list[str], manifest: JSONObject, verdict: Verdict
) -> dict[str, str]:
    """Every listed member is there with its hash; nothing else is. The sha256 of each."""
    digests: dict[str, str] = {}
    listed: dict[str, JSONObject] = {}
    for entry in as_list(manifest.get("members")):
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            listed[str(entry["path"])] = entry
    verdict.members = len(listed)
    present = [n for n in names if n not in UNLISTED]
    counts = Counter(present)
    for name in sorted(n for n, c in counts.items() if c > 1):
        verdict.problems.append(Problem("member_extra", f"{name} is in the zip twice", name))
    for name in counts:
        if name not in listed and not name.endswith("/"):
            verdict.problems.append(
                Problem("member_extra", f"{name} is in the zip but not in the manifest", name)
            )
    for path, entry in listed.items():
        if path not in counts:
            verdict.problems.append(
                Problem("member_missing", f"{path} is in the manifest but not in the zip", path)
            )
            continue
        digest, size = _digest(archive, path)
        digests[path] = digest
        if digest != entry.get("sha256") or size != entry.get("size"):
            verdict.problems.append(
                Problem(
                    "member_hash",
                    f"{path} was changed: its sha256 is {digest[:16]}… ({size} bytes), the "
                    f"manifest says {str(entry.get('sha256'))[:16]}… ({entry.get('size')} bytes)",
                    path,
                    _run_of(path),
                )
            )
    return digests


def _digest(archive: zipfile.ZipFile, path: str) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    with archive.open(path) as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def _run_of(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "runs" else None


def _check_files(
    archive: zipfile.ZipFile,
    manifest: JSONObject,
    digests: Mapping[str, str],
    verdict: Verdict,
) -> None:
    """Each file's bytes have the sha256 its record gives (the server's, since it was saved)."""
    for run_id in _runs(manifest):
        records = _read_json(archive, f"runs/{run_id}/files.json")
        for record in records if isinstance(records, list) else []:
            rec = as_object(record)
            member = str(rec.get("member"))
            digest = digests.get(member)
            if digest is not None and digest != rec.get("sha256"):
                verdict.problems.append(
                    Problem(
                        "file_hash",
                        f"{member} is not the file {rec.get('id')} the run saw: its sha256 is "
                        f"{digest[:16]}…, the file's record says {str(rec.get('sha256'))[:16]}…",
                        member,
                        run_id,
                    )
                )


def _check_chains(archive: zipfile.ZipFile, manifest: JSONObject, verdict: Verdict) -> None:
    chains = as_object(manifest.get("chains"))
    runs = _runs(manifest)
    verdict.runs = len(runs)
    for run_id in runs:
        path = f"runs/{run_id}/events.jsonl"
        if path not in archive.NameToInfo:
            continue  # reported as a missing member
        try:
            links = list(_links(archive.read(path)))
        except (ValueError, KeyError, TypeError) as exc:
            verdict.problems.append(
                Problem(
                    "chain_break", f"the events of run {run_id} cannot be read: {exc}", path, run_id
                )
            )
            continue
        verdict.events += len(links)
        said = as_object(chains.get(run_id))
        head = (int(str(said.get("events") or 0)), str(said.get("head") or ""))
        check = verify_chain(run_id, links, head=head if said else None)
        if not said:
            verdict.problems.append(
                Problem(
                    "chain_count",
                    f"the manifest gives no chain head for run {run_id}",
                    path,
                    run_id,
                )
            )
        if check.ok:
            continue
        if len(links) != head[0] and _whole(run_id, links):
            verdict.problems.append(
                Problem(
                    "chain_count",
                    f"run {run_id} has {len(links)} events, the manifest says {head[0]} "
                    f"(the log was cut or extended at seq {check.first_bad_seq})",
                    path,
                    run_id,
                )
            )
            continue
        verdict.problems.append(
            Problem(
                "chain_break",
                f"the event chain of run {run_id} breaks at seq {check.first_bad_seq}: an event "
                "there was changed, removed or moved",
                path,
                run_id,
            )
        )


def _whole(run_id: str, links: list[ChainLink]) -> bool:
    return verify_chain(run_id, links).ok


def _runs(manifest: JSONObject) -> list[str]:
    return [r for r in as_list(manifest.get("runs")) if isinstance(r, str)]


def _read_json(archive: zipfile.ZipFile, path: str) -> JSON:
    if path not in archive.NameToInfo:
        return None
    try:
        value: JSON = json.loads(archive.read(path))
    except ValueError:
        return None  # its changed bytes are reported as the member's hash
    return value


def _links(raw: bytes) -> Iterator[ChainLink]:
    for line in raw.decode().splitlines():
        if not line.strip():
            continue
        ev = json.loads(line)
        yield {
            "seq": int(ev["seq"]),
            "type": str(ev["type"]),
            "at": str(ev["at"]),
            "data": ev["data"],
            "hash": str(ev["hash"]),
            "prev_hash": str(ev["prev_hash"]),
        }
