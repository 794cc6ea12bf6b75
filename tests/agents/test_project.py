"""Projects of one's own: schemas, output checks, revisions and publishing."""

import textwrap
from pathlib import Path

import httpx

from runplane.testing.server import create_key

AGENTS = '''
from pydantic import BaseModel, Field
from runplane import agent


class Order(BaseModel):
    item: str = Field(min_length=1)
    quantity: int = Field(ge=1)


@agent(input_schema=Order, output="json",
       output_schema={"type": "object", "required": ["total"],
                      "properties": {"total": {"type": "number"}}})
async def price(ctx, order):
    """Price an order (VERSION)."""
    total = await ctx.step("price", lambda: order.quantity * 2.5)
    return {"total": total} if order.item != "broken" else {"oops": True}


@agent(output="document")
async def not_markdown(ctx, input):
    """Returns a number where a document is due."""
    return 42
'''


def write_project(root: Path, publish: str, version: str = "v1") -> Path:
    (root / "shop_agents.py").write_text(AGENTS.replace("VERSION", version))
    toml = root / "runplane.toml"
    toml.write_text(
        textwrap.dedent(f'''
        [project]
        name = "shop"
        publish = "{publish}"
        modules = ["shop_agents"]
    ''')
    )
    return toml


def client_for(server, tenant: str = "shop") -> httpx.Client:  # type: ignore[no-untyped-def]
    key = create_key(server.database_url, tenant=tenant)
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_pydantic_input_and_output_schema_are_enforced(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_server(project=write_project(tmp_path, "auto"))
    with client_for(server) as api:
        ok = api.post(
            "/v1/runs",
            json={"agent_id": "price", "input": {"item": "tea", "quantity": 4}, "wait": 10},
        )
        assert ok.status_code == 201 and ok.json()["result"]["content"] == {"total": 10.0}
        bad_in = api.post(
            "/v1/runs", json={"agent_id": "price", "input": {"item": "tea", "quantity": 0}}
        )
        assert bad_in.status_code == 422
        assert bad_in.json()["details"][0]["name"] == "input.quantity"
        bad_out = api.post(
            "/v1/runs",
            json={"agent_id": "price", "input": {"item": "broken", "quantity": 1}, "wait": 10},
        ).json()
        assert bad_out["status"] == "failed" and bad_out["error"]["code"] == "invalid_output"
        doc = api.post("/v1/runs", json={"agent_id": "not_markdown", "wait": 10}).json()
        assert doc["status"] == "failed" and doc["error"]["code"] == "invalid_output"


def test_manual_publishing_gates_runs_until_a_revision_is_published(
    start_server,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server = start_server(project=write_project(tmp_path, "manual"))
    with client_for(server) as api:
        body = {"agent_id": "price", "input": {"item": "tea", "quantity": 1}, "wait": 10}
        r = api.post("/v1/runs", json=body)
        assert r.status_code == 409 and "published" in r.json()["message"]
        rev = api.get("/v1/agents/price/revisions").json()["items"][0]
        assert rev["stage"] == "draft"
        assert api.post(f"/v1/agents/price/revisions/{rev['id']}/publish").json()["stage"] == (
            "published"
        )
        assert api.post("/v1/runs", json=body).json()["status"] == "succeeded"


def test_changed_code_records_a_new_revision(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    toml = write_project(tmp_path, "auto", "v1")
    server = start_server(project=toml)
    with client_for(server) as api:
        first = api.get("/v1/agents/price/revisions").json()["items"]
        server.stop()
        write_project(tmp_path, "auto", "v2")
        server.start()
        revs = api.get("/v1/agents/price/revisions").json()["items"]
        assert len(first) == 1 and len(revs) == 2
        assert revs[0]["stage"] == "published" and revs[1]["stage"] == "draft"
        assert revs[0]["hash"] != revs[1]["hash"]
        assert api.get("/v1/agents/price").json()["description"].endswith("(v2).")
        old = api.post(
            "/v1/runs",
            json={
                "agent_id": "price",
                "revision_id": revs[1]["id"],
                "input": {"item": "tea", "quantity": 1},
            },
        )
        assert old.status_code == 409 and old.json()["details"][0]["name"] == "revision_id"
