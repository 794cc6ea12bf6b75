"""A run's evidence bundle holds its whole record, and verifies offline."""

import hashlib
import json
import uuid

import httpx
from evidence_helpers import (
    approved_by_api_and_link,
    bundle_of,
    ended,
    members,
    public_keys,
    read_json,
    start,
    until,
)

from runplane.domain.events import verify_chain
from runplane.domain.evidence import verify_bundle
from runplane.domain.models import utcnow
from runplane.schemas.governance import GovernancePolicy
from runplane.services.runtime import Runtime
from runplane.store import governance, tenants


async def test_a_run_with_files_sources_and_steps_exports_all_of_it_and_verifies(
    api: httpx.AsyncClient,
) -> None:
    site = (await api.post("/v1/sites", json={"name": "evidence-in"})).json()
    given = await api.post(
        "/v1/files", files={"file": ("facts.txt", b"the facts\n")}, data={"site_id": site["id"]}
    )
    assert given.status_code == 201, given.text
    run = await start(api, "artifacts", {"parts": 2}, file_ids=[given.json()["id"]])
    run = await until(api, run["id"])
    bundle = await bundle_of(api, run["id"])
    content = members(bundle)
    base = f"runs/{run['id']}"

    record = read_json(bundle, f"{base}/run.json")
    assert record["id"] == run["id"] and record["status"] == "succeeded"
    assert record["policy_version"] == 1 and record["revision_id"] == run["revision_id"]
    revision = read_json(bundle, f"{base}/revision.json")
    assert revision["hash"] == record["revision_hash"] and revision["config"]
    steps = read_json(bundle, f"{base}/steps.json")
    assert [s["name"] for s in steps] == ["part-1", "part-2"] and steps[0]["output"]["nonce"]
    files = read_json(bundle, f"{base}/files.json")
    assert sorted(f["name"] for f in files) == ["facts.txt", "part-1.txt", "part-2.txt"]
    for f in files:
        data = content[f["member"]]
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
    assert {f["role"] for f in files} == {"input", "output"}
    assert read_json(bundle, "policy/1.json")["document"]["signing"]["enabled"] is True

    events = [json.loads(line) for line in content[f"{base}/events.jsonl"].splitlines()]
    assert verify_chain(run["id"], events).ok
    manifest = read_json(bundle, "manifest.json")
    assert manifest["format"] == "runplane-evidence/1" and manifest["runs"] == [run["id"]]
    assert manifest["chains"][run["id"]] == {"events": len(events), "head": events[-1]["hash"]}
    listed = {m["path"] for m in manifest["members"]}
    assert listed == set(content) - {"manifest.json", "manifest.sig"}
    assert manifest["signing"]["algorithm"] == "Ed25519"

    verdict = verify_bundle(bundle, await public_keys(api))
    assert verdict.ok and verdict.signature == "valid", verdict.problems
    assert verdict.runs == 1 and verdict.events == len(events)
    unpinned = verify_bundle(bundle)
    assert unpinned.ok and unpinned.signature == "unpinned"
    assert "which you have not pinned" in unpinned.warnings[0]


async def test_sources_and_approvals_with_who_decided_and_how(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    research = await until(
        api, (await start(api, "research", {"question": "How do durable workflows recover?"}))["id"]
    )
    sources = read_json(await bundle_of(api, research["id"]), f"runs/{research['id']}/sources.json")
    assert sources and all(s["url"].startswith("corpus://") and s["title"] for s in sources)

    run = await approved_by_api_and_link(api, anonymous)
    bundle = await bundle_of(api, run["id"])
    approvals = read_json(bundle, f"runs/{run['id']}/approvals.json")
    assert [a["decided_via"] for a in approvals] == ["api", "link"]
    assert approvals[0]["comment"] == "checked by hand" and approvals[0]["decided_by_key_id"]
    assert all(a["decided_at"] and a["status"] == "approved" for a in approvals)
    assert all(a["link"] is None for a in approvals)
    assert verify_bundle(bundle, await public_keys(api)).ok


async def test_a_live_run_has_no_bundle_yet_and_other_tenants_none(
    api: httpx.AsyncClient, make_client: object
) -> None:
    calls = [{"tool": "read_notes", "arguments": {"day": "Monday"}}]
    run = await start(api, "call_tools", {"calls": calls}, approval="ON_TOOL_CALL")
    await until(api, run["id"], "paused")
    r = await api.get(f"/v1/runs/{run['id']}/evidence")
    assert r.status_code == 409 and "ended" in r.json()["message"]
    other = await make_client()  # type: ignore[operator]
    done = await ended(api)
    assert (await other.get(f"/v1/runs/{done['id']}/evidence")).status_code == 404


async def test_hidden_context_reaches_admin_bundles_only(make_client: object) -> None:
    tenant = f"t-ctx-{uuid.uuid4().hex[:8]}"
    admin = await make_client("admin", tenant)  # type: ignore[operator]
    member = await make_client("member", tenant)  # type: ignore[operator]
    run = await start(admin, "echo", {"x": 1}, context={"secret": "s3cr3t"})
    run = await until(admin, run["id"])
    seen = read_json(await bundle_of(admin, run["id"]), f"runs/{run['id']}/run.json")
    assert seen["context"] == {"secret": "s3cr3t"}
    bundle = await bundle_of(member, run["id"])
    assert read_json(bundle, f"runs/{run['id']}/run.json")["context"] is None
    assert b"s3cr3t" not in b"".join(members(bundle).values())


async def test_a_policy_with_signing_off_makes_unsigned_bundles(
    make_client: object, rt: Runtime
) -> None:
    tenant = f"t-unsigned-{uuid.uuid4().hex[:8]}"
    admin = await make_client("admin", tenant)  # type: ignore[operator]
    document = GovernancePolicy().model_dump(mode="json")
    document["signing"]["enabled"] = False
    async with rt.db.write() as conn:
        found = await tenants.get_tenant_by_name(conn, tenant)
        assert found is not None
        await governance.insert_policy(conn, found["id"], 2, document, "off", utcnow(), None)
    run = await ended(admin)
    bundle = await bundle_of(admin, run["id"])
    assert "manifest.sig" not in members(bundle) and "signing_key.pem" not in members(bundle)
    assert read_json(bundle, "manifest.json")["signing"] is None
    verdict = verify_bundle(bundle)
    assert verdict.ok and verdict.signature == "unsigned"
    assert (await admin.get("/v1/governance/keys")).json()["items"] == []
