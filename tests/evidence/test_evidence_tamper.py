"""Each way of tampering with a bundle is detected, and named."""

import io
import json
import zipfile
from collections.abc import Callable

import httpx
import pytest
from evidence_helpers import bundle_of, ended, members, public_keys, relisted, resigned, rezip

from runplane.domain.evidence import BundleWriter, Verdict, verify_bundle

Content = dict[str, bytes]


async def signed_bundle(api: httpx.AsyncClient) -> tuple[str, Content, list[str]]:
    run = await ended(api)
    return run["id"], members(await bundle_of(api, run["id"])), await public_keys(api)


def file_members(content: Content) -> list[str]:
    return sorted(n for n in content if "/files/" in n)


def kinds(verdict: Verdict) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for p in verdict.problems:
        found.setdefault(p.kind, []).append(p.member)
    return found


def flip_byte(content: Content, run_id: str) -> Content:
    name = file_members(content)[0]
    data = bytearray(content[name])
    data[0] ^= 0x01
    return {**content, name: bytes(data)}


def events_of(content: Content, run_id: str) -> list[bytes]:
    return content[f"runs/{run_id}/events.jsonl"].splitlines(keepends=True)


def with_events(content: Content, run_id: str, lines: list[bytes]) -> Content:
    path = f"runs/{run_id}/events.jsonl"
    return relisted({**content, path: b"".join(lines)}, path)


async def test_a_flipped_byte_in_a_file_names_the_member(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    name = file_members(content)[0]
    verdict = verify_bundle(rezip(flip_byte(content, run_id)), keys)
    assert not verdict.ok
    assert kinds(verdict)["member_hash"] == [name]
    assert kinds(verdict)["file_hash"] == [name]
    assert any(name in p.detail for p in verdict.problems)


async def test_a_dropped_event_is_a_chain_break_at_its_seq(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    lines = events_of(content, run_id)
    verdict = verify_bundle(rezip(with_events(content, run_id, lines[:3] + lines[4:])), keys)
    assert not verdict.ok
    chain = [p for p in verdict.problems if p.kind == "chain_break"]
    assert chain and chain[0].run == run_id and "seq 4" in chain[0].detail
    assert "signature_invalid" in kinds(verdict)  # the manifest had to be changed too


async def test_a_cut_tail_is_counted_against_the_manifest(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    lines = events_of(content, run_id)
    verdict = verify_bundle(rezip(with_events(content, run_id, lines[:-1])), keys)
    count = [p for p in verdict.problems if p.kind == "chain_count"]
    assert count and f"{len(lines) - 1} events, the manifest says {len(lines)}" in count[0].detail


async def test_two_reordered_events_break_the_chain(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    lines = events_of(content, run_id)
    lines[2], lines[3] = lines[3], lines[2]
    verdict = verify_bundle(rezip(with_events(content, run_id, lines)), keys)
    chain = [p for p in verdict.problems if p.kind == "chain_break"]
    assert chain and chain[0].run == run_id and "seq 3" in chain[0].detail


async def test_swapped_files_name_both_members(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    a, b = file_members(content)[:2]
    swapped = {**content, a: content[b], b: content[a]}
    verdict = verify_bundle(rezip(swapped), keys)
    assert sorted(kinds(verdict)["member_hash"]) == sorted([a, b])


async def test_a_changed_manifest_invalidates_the_signature(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    manifest = json.loads(content["manifest.json"])
    manifest["exported_by"] = "key_someone_else"
    changed = {**content, "manifest.json": json.dumps(manifest).encode()}
    verdict = verify_bundle(rezip(changed), keys)
    assert list(kinds(verdict)) == ["signature_invalid"]
    assert verdict.signature == "invalid"
    # Without a pinned key, the bundle's own key does not match either.
    assert list(kinds(verify_bundle(rezip(changed)))) == ["signature_invalid"]


async def test_a_bundle_signed_with_another_key_does_not_match_the_pinned_one(
    api: httpx.AsyncClient,
) -> None:
    run_id, content, keys = await signed_bundle(api)
    forged = resigned(flip_byte(content, run_id))
    verdict = verify_bundle(rezip(forged), keys)
    assert "wrong_key" in kinds(verdict) and verdict.signature == "wrong_key"
    assert "does not match the pinned key" in verdict.problems[0].detail
    # Unpinned, the forger's own key "verifies" it: a warning says so (its hashes still fail).
    assert verify_bundle(rezip(resigned(content))).signature == "unpinned"


async def test_a_missing_and_an_extra_member_are_named(api: httpx.AsyncClient) -> None:
    run_id, content, keys = await signed_bundle(api)
    gone = f"runs/{run_id}/steps.json"
    changed = {k: v for k, v in content.items() if k != gone}
    changed["runs/extra.txt"] = b"slipped in"
    found = kinds(verify_bundle(rezip(changed), keys))
    assert found["member_missing"] == [gone] and found["member_extra"] == ["runs/extra.txt"]


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("make", "kind", "readable"),
    [
        (lambda: b"PK\x03\x04 not really a zip", "not_a_zip", False),
        (lambda: b"", "not_a_zip", False),
        (lambda: rezip({"runs/x/run.json": b"{}"}), "no_manifest", True),
        (lambda: rezip({"manifest.json": b"{nope"}), "bad_manifest", True),
        (lambda: rezip({"manifest.json": b'{"format": "other/9"}'}), "bad_manifest", True),
    ],
)
def test_what_is_not_a_bundle_gets_a_clear_verdict(
    make: Callable[[], bytes], kind: str, readable: bool
) -> None:
    verdict = verify_bundle(make())
    assert not verdict.ok and verdict.readable is readable
    assert [p.kind for p in verdict.problems] == [kind]
    assert verdict.as_dict()["verdict"] == "INVALID"


@pytest.mark.database_independent
def test_an_unsigned_bundle_verifies_with_a_warning_unless_a_key_is_pinned() -> None:
    out = io.BytesIO()
    writer = BundleWriter(out)
    writer.add_json("runs/r/run.json", {"id": "r"})
    writer.finish({"runs": [], "chains": {}}, None)
    verdict = verify_bundle(out.getvalue())
    assert verdict.ok and verdict.signature == "unsigned" and "not signed" in verdict.warnings[0]
    pinned = verify_bundle(out.getvalue(), [_any_public_key()])
    assert [p.kind for p in pinned.problems] == ["unsigned"]
    assert zipfile.is_zipfile(io.BytesIO(out.getvalue()))


def _any_public_key() -> str:
    from runplane.domain.evidence import new_key_pair

    return new_key_pair()[1]
