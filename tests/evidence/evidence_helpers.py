"""Shared steps of the evidence tests: runs that leave a full record, bundles, tampering."""

import asyncio
import base64
import io
import json
import zipfile
from typing import Any
from urllib.parse import urlparse

import httpx

from runplane.domain.evidence import (
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    Signer,
    json_bytes,
    new_key_pair,
)

ENDED = ("succeeded", "failed", "canceled")


async def start(api: httpx.AsyncClient, agent: str, input: object, **extra: object) -> dict:
    r = await api.post("/v1/runs", json={"agent_id": agent, "input": input, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def until(api: httpx.AsyncClient, run_id: str, *statuses: str, timeout: float = 30) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = (await api.get(f"/v1/runs/{run_id}")).json()
        if run["status"] in (statuses or ENDED):
            return run
        assert loop.time() < deadline, f"run stayed {run['status']}"
        await asyncio.sleep(0.05)


async def ended(api: httpx.AsyncClient, agent: str = "artifacts", input: object = None) -> dict:
    """A run of ``agent`` that has ended (``artifacts`` saves two files)."""
    run = await start(api, agent, {"parts": 2} if input is None else input)
    return await until(api, run["id"])


async def pending(api: httpx.AsyncClient, run_id: str) -> dict:
    await until(api, run_id, "paused")
    r = await api.get("/v1/approvals", params={"run_id": run_id, "status": "pending"})
    items = r.json()["items"]
    assert len(items) == 1, items
    return items[0]


async def approved_by_api_and_link(api: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> dict:
    """A run whose first tool call was approved through the API, its second through a link."""
    calls = [{"tool": "read_notes", "arguments": {"day": d}} for d in ("Monday", "Tuesday")]
    run = await start(api, "call_tools", {"calls": calls}, approval="ON_TOOL_CALL")
    first = await pending(api, run["id"])
    body = {"decision": "approve", "comment": "checked by hand"}
    assert (await api.post(f"/v1/approvals/{first['id']}", json=body)).status_code == 200
    second = await pending(api, run["id"])
    token = urlparse(second["link"]).fragment
    r = await anonymous.post("/v1/runs/approval", json={"token": token, "decision": "approve"})
    assert r.status_code == 200, r.text
    return await until(api, run["id"])


async def bundle_of(api: httpx.AsyncClient, run_id: str) -> bytes:
    r = await api.get(f"/v1/runs/{run_id}/evidence")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return r.content


async def public_keys(api: httpx.AsyncClient) -> list[str]:
    return [k["public_key"] for k in (await api.get("/v1/governance/keys")).json()["items"]]


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        return {n: z.read(n) for n in z.namelist()}


def read_json(bundle: bytes, path: str) -> Any:
    return json.loads(members(bundle)[path])


def rezip(content: dict[str, bytes]) -> bytes:
    """A zip of these members, in this order (what a tamperer would make)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in content.items():
            z.writestr(name, data)
    return out.getvalue()


def relisted(content: dict[str, bytes], path: str) -> dict[str, bytes]:
    """The members with ``path``'s manifest entry made to match its (changed) bytes, as a
    tamperer who cannot sign would do: the signature no longer matches."""
    import hashlib

    manifest = json.loads(content[MANIFEST])
    for m in manifest["members"]:
        if m["path"] == path:
            m["sha256"] = hashlib.sha256(content[path]).hexdigest()
            m["size"] = len(content[path])
    return {**content, MANIFEST: json_bytes(manifest)}


def resigned(content: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle signed again by a key of the tamperer's own (and its PEM put inside)."""
    private_pem, public_pem = new_key_pair()
    signature = Signer("sgk_other", private_pem).sign(content[MANIFEST])
    return {
        **content,
        SIGNATURE: base64.b64encode(signature) + b"\n",
        PUBLIC_KEY: public_pem.encode(),
    }
