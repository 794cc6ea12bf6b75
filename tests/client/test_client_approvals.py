"""The client's approvals, connections, tools and pausing runs, against a live server."""

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from pydantic import ValidationError as SchemaError

from runplane.client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    GoneError,
    NotFoundError,
    ValidationError,
)
from runplane.schemas import (
    ApprovalPublic,
    ApprovalRule,
    ConnectionPublic,
    EventPublic,
    IntegrationPublic,
    RunPublic,
    ToolPublic,
)
from runplane.testing.server import create_key

pytestmark = pytest.mark.timeout(60)

EMAIL = {
    "tool": "send_email",
    "arguments": {"to": "team@example.com", "subject": "Hi", "body": "b"},
}
NOTES = {"tool": "read_notes", "arguments": {"day": "Monday"}}


@pytest.fixture(scope="module")
def key(live_server: Any) -> str:
    """A key of a tenant of this module's own."""
    return create_key(live_server.database_url, tenant=f"approvals-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def client(live_server: Any, key: str) -> Iterator[Client]:
    with Client(live_server.url, key, timeout=10) as c:
        yield c


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def call_tools(client: Client, *calls: dict[str, Any], **fields: Any) -> RunPublic:
    return client.runs.create("call_tools", {"calls": list(calls)}, **fields)


def wait_for_status(client: Client, run_id: str, status: str, timeout: float = 15) -> RunPublic:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.runs.get(run_id)
        if run.status == status:
            return run
        assert run.status not in ("succeeded", "failed", "canceled"), run
        time.sleep(0.05)
    raise AssertionError(f"{run_id} did not reach {status} in {timeout} s")


def pending(client: Client, run_id: str) -> ApprovalPublic:
    """The one pending approval of a paused run."""
    run = wait_for_status(client, run_id, "paused")
    items = client.approvals.list(run_id=run_id, status="pending").items
    assert len(items) == 1, items
    assert run.waiting_on is not None and run.waiting_on["approval_id"] == items[0].id
    return items[0]


def link_token(client: Client, run_id: str, approval_id: str) -> str:
    """The token of an approval's link, as a key allowed to decide is shown it."""
    approval = client.approvals.get(approval_id)
    assert approval.run_id == run_id and approval.link is not None
    return urlparse(approval.link).fragment


def results(run: RunPublic) -> list[dict[str, Any]]:
    assert run.status == "succeeded" and run.result is not None, run
    found: list[dict[str, Any]] = run.result.content["results"]
    return found


# -- approving tool calls -------------------------------------------------------------


def test_a_run_approving_each_tool_call_pauses_and_an_approval_resumes_it(client: Client) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    assert run.approval == "ON_TOOL_CALL" and run.integrations == "*"

    asked = pending(client, run.id)
    approved = client.approvals.approve(asked.id, comment="fine")
    ended = client.runs.wait(run.id, timeout=15)

    assert asked.kind == "tool_call" and asked.status == "pending"
    assert asked.request["tool"] == "read_notes"
    assert asked.request["arguments"] == {"day": "Monday"}
    assert isinstance(approved, ApprovalPublic)
    assert approved.status == "approved" and approved.decision == "approve"
    assert approved.comment == "fine" and approved.decided_by and approved.decided_at
    assert client.approvals.get(asked.id) == approved
    [notes] = results(ended)
    assert notes["tool"] == "read_notes" and len(notes["output"]) == 3
    assert ended.waiting_on is None


def test_an_approval_with_edited_arguments_makes_the_call_with_them(client: Client) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")

    asked = pending(client, run.id)
    approved = client.approvals.approve(asked.id, arguments={"day": "Friday"})
    ended = client.runs.wait(run.id, timeout=15)

    assert approved.arguments == {"day": "Friday"}
    [notes] = results(ended)
    assert [n["day"] for n in notes["output"]] == ["Friday"]
    resolved = [e for e in client.runs.events(run.id).items if e.type == "approval.resolved"]
    assert [e.data["edited_arguments"] for e in resolved] == [{"day": "Friday"}]


def test_arguments_the_tool_does_not_take_are_refused_and_the_call_still_waits(
    client: Client,
) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    asked = pending(client, run.id)

    with pytest.raises(ValidationError):
        client.approvals.approve(asked.id, arguments={"weekday": "Friday"})

    assert client.approvals.get(asked.id).status == "pending"
    assert client.runs.get(run.id).status == "paused"
    client.approvals.approve(asked.id)
    assert client.runs.wait(run.id, timeout=15).status == "succeeded"


def test_a_rejected_call_reaches_the_agent_as_tool_rejected_with_the_comment(
    client: Client,
) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")

    rejected = client.approvals.reject(pending(client, run.id).id, comment="not today")
    ended = client.runs.wait(run.id, timeout=15)

    assert rejected.status == "rejected" and rejected.comment == "not today"
    [notes] = results(ended)
    assert notes["error"]["code"] == "tool_rejected"
    assert "not today" in notes["error"]["message"]
    [result] = [e.data for e in client.runs.events(run.id).items if e.type == "tool_result"]
    assert result["rejected"] is True and result["ok"] is False


def test_deciding_twice_is_a_conflict_and_leaves_the_first_decision(client: Client) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    asked = pending(client, run.id)
    client.approvals.approve(asked.id)

    with pytest.raises(ConflictError) as caught:
        client.approvals.reject(asked.id, comment="too late")

    assert caught.value.status_code == 409 and "already decided" in caught.value.message
    assert client.approvals.get(asked.id).status == "approved"
    assert client.runs.wait(run.id, timeout=15).status == "succeeded"


def test_approvals_are_listed_by_run_and_status_across_pages(client: Client) -> None:
    run = call_tools(client, NOTES, NOTES, NOTES, approval="ON_TOOL_CALL")
    for _ in range(3):
        client.approvals.approve(pending(client, run.id).id)
    client.runs.wait(run.id, timeout=15)

    every = list(client.approvals.iter(run_id=run.id, limit=2))
    first_page = client.approvals.list(run_id=run.id, limit=2)

    assert len(every) == 3 and {a.status for a in every} == {"approved"}
    assert [a.request["step"] for a in every] == [3, 2, 1]  # newest first
    assert len(first_page.items) == 2 and first_page.continuation_token
    assert client.approvals.list(run_id=run.id, status="pending").items == []
    assert list(client.approvals.iter(run_id=run.id, status="rejected")) == []


def test_approval_rules_pause_only_the_calls_whose_condition_holds(client: Client) -> None:
    small = {"account": "ops", "to": "acme", "amount": 100, "reference": uuid.uuid4().hex}
    large = {**small, "amount": 900, "reference": uuid.uuid4().hex}
    run = call_tools(
        client,
        {"tool": "pay", "arguments": small},
        {"tool": "pay", "arguments": large},
        approval_rules=[ApprovalRule(tool="pay", when="amount > 500")],
    )

    asked = pending(client, run.id)
    client.approvals.approve(asked.id)
    ended = client.runs.wait(run.id, timeout=15)

    assert asked.request["arguments"]["amount"] == 900
    assert ended.approval_rules == [{"tool": "pay", "when": "amount > 500"}]
    assert [a.id for a in client.approvals.iter(run_id=run.id)] == [asked.id]
    assert all("output" in r for r in results(ended))


def test_an_unreadable_approval_rule_is_refused_naming_the_field(client: Client) -> None:
    with pytest.raises(ValidationError) as caught:
        call_tools(client, NOTES, approval_rules=[{"tool": "pay", "when": "amount is big"}])

    assert caught.value.status_code == 422
    assert any("approval_rules" in d.name for d in caught.value.details), caught.value.details


def test_an_unknown_approval_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.approvals.get("apr_does_not_exist")
    with pytest.raises(NotFoundError):
        client.approvals.approve("apr_does_not_exist")


# -- signed links ---------------------------------------------------------------------


def test_an_approval_link_decides_once_without_a_key_and_a_second_use_is_a_conflict(
    live_server: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNPLANE_API_KEY", raising=False)
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    asked = pending(client, run.id)
    token = link_token(client, run.id, asked.id)

    link = client.approvals.get(asked.id).link
    assert link is not None and link.endswith("#" + token)
    with Client(live_server.url, None, timeout=10) as anonymous:
        seen = anonymous.approvals.view_link(link)  # the whole link or its token
        decided = anonymous.approvals.decide_link(token, "approve", comment="from the email")
        with pytest.raises(ConflictError) as again:
            anonymous.approvals.decide_link(token, "reject")
        with pytest.raises(AuthenticationError):
            anonymous.approvals.list()

    assert seen.id == asked.id and seen.status == "pending"
    assert decided.status == "approved" and decided.decided_by == "link"
    assert decided.decided_via == "link" and decided.decided_by_key_id is None
    assert decided.comment == "from the email"
    assert again.value.status_code == 409
    assert client.runs.wait(run.id, timeout=15).status == "succeeded"
    assert client.approvals.view_link(token).status == "approved"  # looking still works


def test_a_revoked_link_is_gone_and_a_new_one_decides(client: Client) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    asked = pending(client, run.id)
    old = link_token(client, run.id, asked.id)

    revoked = client.approvals.revoke_link(asked.id)
    with pytest.raises(GoneError):
        client.approvals.decide_link(old, "approve")
    made = client.approvals.new_link(asked.id)
    decided = client.approvals.decide_link(made.link, "approve")

    assert revoked.link is None and revoked.link_revoked_at is not None
    assert made.approval_id == asked.id and made.link.endswith("#" + made.token)
    assert decided.status == "approved"
    assert client.runs.wait(run.id, timeout=15).status == "succeeded"


def test_a_forged_link_is_refused(client: Client) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    asked = pending(client, run.id)
    token = link_token(client, run.id, asked.id)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    with pytest.raises(BadRequestError):
        client.approvals.decide_link(forged, "approve")

    assert client.approvals.get(asked.id).status == "pending"
    client.approvals.approve(asked.id)


def test_an_expired_approval_takes_its_default_action_and_its_link_is_gone(
    client: Client,
) -> None:
    run = call_tools(
        client,
        NOTES,
        approval="ON_TOOL_CALL",
        approval_expiry={"seconds": 1, "default_action": "reject"},
    )
    asked = pending(client, run.id)
    token = link_token(client, run.id, asked.id)

    ended = client.runs.wait(run.id, timeout=20)

    assert asked.expires_at is not None and asked.default_action == "reject"
    [notes] = results(ended)
    assert notes["error"]["code"] == "tool_rejected"
    expired = client.approvals.get(asked.id)
    assert expired.status == "rejected" and expired.decided_by == "system:expiry"
    with pytest.raises(GoneError) as gone:
        client.approvals.decide_link(token, "approve")
    assert gone.value.status_code == 410


# -- plans ----------------------------------------------------------------------------


def test_an_on_start_run_answers_with_its_plan_and_a_rejected_plan_cancels_it(
    client: Client,
) -> None:
    run = client.runs.create(
        "intent", {"intent": "email the team the notes from Monday"}, approval="ON_START"
    )

    assert run.plan is not None and run.plan["format"] == "json"
    assert [s["tool"] for s in run.plan["content"]["steps"]] == ["read_notes", "send_email"]
    asked = pending(client, run.id)
    assert asked.kind == "plan" and asked.request["plan"] == run.plan
    client.approvals.reject(asked.id, comment="wrong team")
    ended = client.runs.wait(run.id, timeout=15)
    assert ended.status == "canceled"
    assert [e.type for e in client.runs.events(run.id).items if e.type.startswith("tool")] == []


# -- credentials ----------------------------------------------------------------------


def test_a_run_waits_in_auth_required_until_its_user_connects_the_integration(
    client: Client,
) -> None:
    alice = user()
    run = call_tools(client, EMAIL, user_id=alice)

    waiting = wait_for_status(client, run.id, "auth_required")
    with pytest.raises(TimeoutError):
        client.runs.wait(run.id, timeout=0.5)  # waiting is not an end
    stored = client.connections.put(alice, "email", "s3cret")
    ended = client.runs.wait(run.id, timeout=15)

    assert waiting.waiting_on == {"integration": "email", "user_id": alice}
    [asked] = [e.data for e in client.runs.events(run.id).items if e.type == "auth.required"]
    assert asked["tool"] == "send_email" and asked["user_id"] == alice
    assert isinstance(stored, ConnectionPublic) and stored.resumed_runs == [run.id]
    [sent] = results(ended)
    assert sent["output"]["sender"] == alice and sent["output"]["status"] == "sent"


def test_connections_are_listed_without_secrets_and_can_be_removed(client: Client) -> None:
    bob = user()
    client.connections.put(bob, "email", "first")
    again = client.connections.put(bob, "email", "second")

    listed = client.connections.list(bob).items
    client.connections.delete(bob, "email")

    assert again.resumed_runs == [] and again.updated_at >= again.created_at
    assert [(c.user_id, c.integration) for c in listed] == [(bob, "email")]
    assert "second" not in listed[0].model_dump_json()
    assert client.connections.list(bob).items == []
    run = call_tools(client, EMAIL, user_id=bob)
    wait_for_status(client, run.id, "auth_required")  # a removed credential is not used
    client.runs.cancel(run.id)


# -- following a run that pauses ------------------------------------------------------


def test_stream_and_wait_follow_a_run_through_its_pause_to_its_end(client: Client) -> None:
    run = call_tools(client, NOTES, approval="ON_TOOL_CALL")
    streamed: list[EventPublic] = []
    waited: list[RunPublic] = []
    followers = [
        threading.Thread(target=lambda: streamed.extend(client.runs.stream(run.id))),
        threading.Thread(target=lambda: waited.append(client.runs.wait(run.id, timeout=30))),
    ]
    for thread in followers:
        thread.start()

    asked = pending(client, run.id)
    time.sleep(0.3)  # both followers are past the pause, still following
    assert all(thread.is_alive() for thread in followers)
    client.approvals.approve(asked.id)
    for thread in followers:
        thread.join(20)

    statuses = [e.data["status"] for e in streamed if e.type == "status"]
    assert statuses == ["queued", "running", "paused", "running", "succeeded"]
    types = [e.type for e in streamed]
    assert types.index("approval.required") < types.index("approval.resolved")
    assert [r.status for r in waited] == ["succeeded"]


async def test_the_async_client_decides_approvals_and_connects_users(
    live_server: Any, key: str
) -> None:
    carol = user()
    async with AsyncClient(live_server.url, key, timeout=10) as aclient:
        run = await aclient.runs.create(
            "call_tools", {"calls": [EMAIL]}, approval="ON_TOOL_CALL", user_id=carol
        )
        deadline = time.monotonic() + 15
        items: list[ApprovalPublic] = []
        while not items and time.monotonic() < deadline:
            items = (await aclient.approvals.list(run_id=run.id, status="pending")).items
            await asyncio.sleep(0.05)
        [asked] = items
        approved = await aclient.approvals.approve(asked.id)
        while (await aclient.runs.get(run.id)).status != "auth_required":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        stored = await aclient.connections.put(carol, "email", "token")
        ended = await aclient.runs.wait(run.id, timeout=15)
        listed = (await aclient.connections.list(carol)).items
        seen = [a async for a in aclient.approvals.iter(run_id=run.id)]
        tools = (await aclient.tools.list()).items

    assert approved.status == "approved" and stored.resumed_runs == [run.id]
    assert ended.status == "succeeded" and [c.integration for c in listed] == ["email"]
    assert [a.id for a in seen] == [asked.id]
    assert "send_email" in {t.name for t in tools}


# -- tools ----------------------------------------------------------------------------


def test_tools_and_integrations_are_listed_with_what_they_need(client: Client) -> None:
    tools = {t.name: t for t in client.tools.list().items}
    integrations = {i.name: i for i in client.integrations.list().items}

    assert all(isinstance(t, ToolPublic) for t in tools.values())
    assert {"read_notes", "send_email", "get_balance", "pay"} <= set(tools)
    assert tools["send_email"].requires_auth and tools["send_email"].integration == "email"
    assert not tools["read_notes"].requires_auth
    assert tools["get_balance"].rate_limit == "2/s"
    assert tools["pay"].parameters["required"] == ["account", "to", "amount", "reference"]
    assert all(isinstance(i, IntegrationPublic) for i in integrations.values())
    assert integrations["email"].requires_auth
    assert {t.name for t in integrations["billing"].tools} == {"get_balance", "pay"}


def test_a_run_limited_to_some_integrations_cannot_call_the_others(client: Client) -> None:
    run = call_tools(client, NOTES, EMAIL, integrations=["notes"], user_id=user())
    ended = client.runs.wait(run.id, timeout=15)

    assert ended.integrations == ["notes"]
    notes, email = results(ended)
    assert "output" in notes and "error" in email


def test_new_run_fields_and_decisions_are_checked_before_sending(client: Client) -> None:
    with pytest.raises(SchemaError) as bad_run:
        client.runs.create("call_tools", {"calls": [NOTES]}, approval="SOMETIMES")  # type: ignore[arg-type]
    with pytest.raises(SchemaError) as bad_decision:
        client.approvals.decide("apr_x", decision="maybe")

    assert [e["loc"] for e in bad_run.value.errors()] == [("approval",)]
    assert [e["loc"] for e in bad_decision.value.errors()] == [("decision",)]
