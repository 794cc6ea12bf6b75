"""Outgoing calls are fenced and signed (issue 11, finding 4).

A run's webhook (native ``notify``, the Agent Protocol's ``webhook``, a cron's) is a URL
a tenant chooses; the server must not POST to its own loopback, the cloud's metadata
service or the private network on the tenant's say, must not be steered there by a
redirect or by a resolver that changes its answer, and must sign what it sends.
"""

import asyncio
import ipaddress
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa

from runplane import outbound
from runplane.client import AsyncClient, WebhookVerificationError, verify_webhook
from runplane.domain.errors import RunError
from runplane.outbound.policy import AllowEntry, IPAddress, Policy, classify
from runplane.providers.openai import OpenAIProvider
from runplane.services import auth
from runplane.services.runtime import Runtime
from runplane.store.schema import webhook_secrets
from runplane.testing.webhooks import WebhookReceiver

SECRET_IN_URL = "s3cret-in-the-url"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A receiver on loopback: what an attacker would like the server to reach."""
    with WebhookReceiver() as r:
        yield r


def internal_urls(port: int) -> list[str]:
    """Webhook URLs that name an internal or non-HTTP target outright."""
    return [
        f"http://127.0.0.1:{port}/hook?token={SECRET_IN_URL}",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://10.0.0.1/hook",
        f"http://[::1]:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",
        "http://[fd00:ec2::254]/latest/meta-data/",
        f"http://2130706433:{port}/hook",  # 127.0.0.1 spelled as one number
        f"http://localhost:{port}/hook",
        "file:///etc/passwd",
        f"gopher://127.0.0.1:{port}/_stats",
    ]


async def settle(rt: Runtime) -> None:
    """Wait for every webhook delivery the app has started to end."""
    for _ in range(200):
        if not rt.hooks.webhooks.tasks:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("webhook deliveries still running")


async def run_with_webhook(api: httpx.AsyncClient, url: str) -> dict:
    """Start an ``echo`` run that notifies ``url``, and wait until it ends."""
    body = {"agent_id": "echo", "input": {}, "notify": {"webhook": url}, "wait": 20}
    r = await api.post("/v1/runs", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "succeeded"
    return r.json()


def names(error: httpx.Response) -> list[str]:
    return [d["name"] for d in error.json()["details"]]


# -- refused when the run is created ----------------------------------------------------


async def test_native_runs_with_internal_webhooks_are_refused_and_nothing_is_sent(
    api: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    for url in internal_urls(receiver.port):
        body = {"agent_id": "echo", "input": {}, "notify": {"webhook": url}}
        r = await api.post("/v1/runs", json=body)
        assert r.status_code == 422, (url, r.text)
        assert any(n.endswith("webhook") for n in names(r)), (url, r.text)
        if url.startswith("http:"):
            assert SECRET_IN_URL not in r.text  # the URL is not echoed back
    assert (await api.get("/v1/runs")).json()["items"] == []
    await settle(rt)
    assert receiver.received == []


async def test_agent_protocol_runs_and_crons_with_internal_webhooks_are_refused(
    api: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver
) -> None:
    thread = (await api.post("/threads", json={})).json()["thread_id"]
    for url in internal_urls(receiver.port):
        body = {"assistant_id": "lg_echo", "input": {"message": "x"}, "webhook": url}
        paths = ("/runs", "/runs/wait", "/runs/stream", f"/threads/{thread}/runs")
        for path in (*paths, f"/threads/{thread}/runs/wait", f"/threads/{thread}/runs/stream"):
            r = await api.post(path, json=body)
            assert r.status_code == 422, (path, url, r.text)
            assert names(r) == ["webhook"], r.text
        r = await api.post("/runs/batch", json=[body])
        assert r.status_code == 422 and names(r) == ["0.webhook"], (url, r.text)
        r = await api.post("/runs/crons", json={**body, "schedule": "* * * * *"})
        assert r.status_code == 422 and names(r) == ["webhook"], (url, r.text)
    assert (await api.post("/runs/crons/search", json={})).json() == []
    assert (await api.get(f"/threads/{thread}/runs")).json() == []
    await settle(rt)
    assert receiver.received == []


# -- refused when it is delivered -----------------------------------------------------------


def answers(*addresses: str) -> outbound.Resolver:
    """A resolver that answers every name with these addresses."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["169.254.169.254"], ["10.0.0.1"], ["93.184.216.34", "127.0.0.1"]],
    ids=["loopback", "metadata", "private", "public-and-loopback"],
)
async def test_a_host_name_that_resolves_inside_is_refused_at_delivery_and_logged_without_the_url(
    api: httpx.AsyncClient,
    rt: Runtime,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    addresses: list[str],
) -> None:
    monkeypatch.setattr(rt.hooks.webhooks, "resolver", answers(*addresses))
    url = f"http://hooks.example.test:{receiver.port}/hook?token={SECRET_IN_URL}"
    with caplog.at_level(logging.WARNING, logger="runplane.webhooks"):
        run = await run_with_webhook(api, url)
        await settle(rt)
    assert receiver.received == []
    about = [r for r in caplog.records if getattr(r, "run_id", None) == run["id"]]
    assert about and all("refused" in r.getMessage() for r in about)
    assert len(about) == 1  # refused once, not retried
    assert not any(SECRET_IN_URL in r.getMessage() for r in caplog.records)


async def test_a_redirect_to_an_internal_address_is_not_followed(
    api: httpx.AsyncClient, rt: Runtime, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver(redirect_to=f"http://127.0.0.1:{receiver.port}/stolen") as allowed:
        monkeypatch.setattr(rt.settings, "outbound_allow", [allowed.allow_entry])
        await run_with_webhook(api, allowed.url)
        await settle(rt)
    assert [r["body"]["event"] for r in allowed.received] == ["run.finished"]
    assert receiver.received == []


# -- the fence itself: pinned addresses, no DNS rebinding --------------------------------------


def rebinding(first: str, then: str) -> tuple[outbound.Resolver, list[str]]:
    """A resolver that answers ``first`` once and ``then`` ever after; and its call log."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address(first if len(calls) == 1 else then)]

    return resolve, calls


def receivers_on_one_port() -> tuple[WebhookReceiver, WebhookReceiver]:
    """A receiver on 127.0.0.2 (to be allowed) and one on 127.0.0.1 at the same port."""
    for _ in range(10):
        allowed = WebhookReceiver(host="127.0.0.2")
        try:
            target = WebhookReceiver(host="127.0.0.1", port=allowed.port)
        except OSError:
            allowed.server.server_close()
            continue
        return allowed.start(), target.start()
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.mark.database_independent
async def test_a_resolver_that_changes_its_answer_cannot_move_the_connection() -> None:
    allowed, target = receivers_on_one_port()
    resolve, calls = rebinding("127.0.0.2", "127.0.0.1")
    policy = Policy(allow=(AllowEntry.parse("127.0.0.2/32"),))
    url = f"http://rebind.example.test:{allowed.port}/hook"
    try:
        async with outbound.async_client(policy, resolver=resolve) as client:
            assert await outbound.post(client, url, b"{}", {}) == 200
            with pytest.raises(outbound.Refused, match="loopback"):
                await outbound.post(client, url, b"{}", {})
    finally:
        allowed.stop()
        target.stop()
    assert calls == ["rebind.example.test"] * 2  # one answer per request, and it was used
    assert [r["headers"]["host"] for r in allowed.received] == [
        f"rebind.example.test:{allowed.port}"
    ]
    assert target.received == []


@pytest.mark.database_independent
async def test_https_goes_to_the_checked_address_with_the_name_kept_for_tls_and_host() -> None:
    seen: list[httpx.Request] = []

    class Recorder(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(204)

    transport = outbound.guarded_transport(
        Policy(), httpx, resolver=answers("93.184.216.34"), inner=Recorder
    )
    async with httpx.AsyncClient(transport=transport) as client:
        r = await client.post("https://hooks.example.com/in", content=b"{}")
    assert r.status_code == 204
    (sent,) = seen
    assert sent.url.host == "93.184.216.34" and sent.url.scheme == "https"
    assert sent.headers["host"] == "hooks.example.com"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"  # SNI and certificate check


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "reserved"),  # carrier-grade NAT
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
@pytest.mark.database_independent
def test_addresses_are_classified(address: str, kind: str | None) -> None:
    assert classify(ipaddress.ip_address(address)) == kind


@pytest.mark.database_independent
def test_allowing_private_networks_still_refuses_cloud_metadata_unless_listed() -> None:
    metadata = [ipaddress.ip_address("169.254.169.254")]
    with pytest.raises(outbound.Refused, match="cloud metadata"):
        Policy(allow_private=True).check_addresses("x", 80, metadata)
    Policy(allow=(AllowEntry.parse("169.254.169.254/32"),)).check_addresses("x", 80, metadata)
    Policy(allow_private=True).check_addresses("x", 80, [ipaddress.ip_address("10.0.0.1")])


@pytest.mark.database_independent
async def test_a_model_server_on_loopback_is_refused_unless_allowed() -> None:
    provider = OpenAIProvider(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0)
    with pytest.raises(RunError) as caught:
        await provider.complete([{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_error" and not caught.value.retryable
    assert "RUNPLANE_ALLOW_PRIVATE_NETWORKS" in str(caught.value)
    await provider.aclose()


# -- signed deliveries ------------------------------------------------------------------------


async def rotate(api: httpx.AsyncClient, **body: int) -> str:
    r = await api.post("/v1/webhook-secret", json=body)
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    return str(secret)


Deliver = Callable[[], Awaitable[dict]]


@pytest.fixture
def deliver(
    api: httpx.AsyncClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deliver]:
    """Run once with a webhook to a receiver that the app is explicitly allowed to call."""
    with WebhookReceiver() as receiver:
        monkeypatch.setattr(rt.settings, "outbound_allow", [receiver.allow_entry])

        async def one() -> dict:
            run = await run_with_webhook(api, receiver.url)
            await settle(rt)
            return next(r for r in receiver.received if r["body"]["run_id"] == run["id"])

        yield one


async def test_a_delivery_is_signed_and_verify_webhook_rejects_tampering_and_replay(
    api: httpx.AsyncClient, deliver: Deliver
) -> None:
    secret = await rotate(api, grace_seconds=0)
    got = await deliver()
    raw, headers = got["raw"], got["headers"]

    body = verify_webhook(raw, headers, secret)
    assert body["event"] == "run.finished" and body["status"] == "succeeded"
    assert headers["webhook-id"].startswith("msg_")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60

    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(raw.replace(b"succeeded", b"failed"), headers, secret)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(raw, {**headers, "webhook-id": "msg_other"}, secret)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(raw, headers, secret, now=int(headers["webhook-timestamp"]) + 301)
    with pytest.raises(WebhookVerificationError, match="signature"):
        verify_webhook(raw, headers, await rotate(api, grace_seconds=0))
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(raw, {"webhook-id": headers["webhook-id"]}, secret)


async def test_a_rotated_secret_stops_verifying_after_its_grace(
    api: httpx.AsyncClient, deliver: Deliver
) -> None:
    first = await rotate(api, grace_seconds=0)
    second = await rotate(api)  # the default grace: both sign for a while
    during = await deliver()
    assert len(during["headers"]["webhook-signature"].split()) == 2
    for secret in (first, second):
        verify_webhook(during["raw"], during["headers"], secret)

    third = await rotate(api, grace_seconds=0)  # at once: the old ones stop
    after = await deliver()
    assert len(after["headers"]["webhook-signature"].split()) == 1
    verify_webhook(after["raw"], after["headers"], third)
    for old in (first, second):
        with pytest.raises(WebhookVerificationError):
            verify_webhook(after["raw"], after["headers"], old)


async def test_only_admins_rotate_and_the_secret_is_stored_sealed(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], rt: Runtime
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin = await make_client("admin", tenant)
    for role in ("member", "approver", "viewer"):
        r = await (await make_client(role, tenant)).post("/v1/webhook-secret", json={})
        assert r.status_code == 403, (role, r.text)
        assert "whsec_" not in r.text
    secret = await rotate(admin)
    async with rt.db.read() as conn:
        rows = (await conn.execute(sa.select(webhook_secrets))).mappings().all()
    assert rows and all(secret not in str(dict(row)) for row in rows)
    r = await admin.post("/v1/webhook-secret", json={"grace_seconds": -1})
    assert r.status_code == 422 and names(r)[0].endswith("grace_seconds")


async def test_the_python_client_rotates_the_secret_and_verifies_with_it(
    app: object, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await auth.create_key(rt.db, f"t-{uuid.uuid4().hex[:10]}", None, "admin")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    with WebhookReceiver() as receiver:
        monkeypatch.setattr(rt.settings, "outbound_allow", [receiver.allow_entry])
        async with AsyncClient("http://runplane.test", key, transport=transport) as client:
            old = await client.rotate_webhook_secret()
            made = await client.rotate_webhook_secret(grace_seconds=0)
            run = await client.runs.create("echo", input={}, notify={"webhook": receiver.url})
            await client.runs.wait(run.id, timeout=20)
        await settle(rt)
    assert made.secret.startswith("whsec_") and made.previous_valid_until is None
    (got,) = receiver.received
    assert verify_webhook(got["raw"], got["headers"], made.secret)["run_id"] == run.id
    with pytest.raises(WebhookVerificationError):
        verify_webhook(got["raw"], got["headers"], old.secret)
