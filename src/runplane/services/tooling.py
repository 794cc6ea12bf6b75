"""What a run's tool calls reach outside the run: credentials, rate limits, records, models."""

import builtins
from collections.abc import Mapping

from runplane.agents.tools import Records, ToolSpec
from runplane.domain.errors import RunError
from runplane.domain.ids import new_id
from runplane.domain.json import JSONObject
from runplane.domain.models import RunRecord, iso, utcnow
from runplane.domain.policy import RateLimit
from runplane.engine.governance import ModelCall, ModelReply, OnText
from runplane.providers import ModelProvider, OfflineProvider
from runplane.services.crypto import Keys
from runplane.services.model_routing import ModelRouter
from runplane.store import connections as connections_store
from runplane.store import rate_limits, tool_records
from runplane.store.db import Database


class TenantRecords:
    """The tool document store of one tenant."""

    def __init__(self, db: Database, tenant_id: str) -> None:
        self.db = db
        self.tenant_id = tenant_id

    async def add(self, collection: str, data: JSONObject) -> JSONObject:
        """Store a document; return it with its ``id`` and ``created_at``."""
        record_id, now = new_id("rec"), utcnow()
        async with self.db.write() as conn:
            await tool_records.add(conn, record_id, self.tenant_id, collection, data, now)
        return {**data, "id": record_id, "created_at": iso(now)}

    async def list(self, collection: str) -> "builtins.list[JSONObject]":
        """Every document of a collection, oldest first."""
        async with self.db.read() as conn:
            rows = await tool_records.list_collection(conn, self.tenant_id, collection)
        return [{**r["data"], "id": r["id"], "created_at": iso(r["created_at"])} for r in rows]


class ToolGate:
    """The services' side of ``RunContext.tool`` for one run."""

    def __init__(
        self,
        db: Database,
        keys: Keys,
        tools: Mapping[str, ToolSpec],
        provider: ModelProvider | None,
        run: RunRecord,
        models: ModelRouter | None = None,
    ) -> None:
        self.db = db
        self.keys = keys
        self.provider: ModelProvider = provider or OfflineProvider()
        self.tenant_id = run["tenant_id"]
        self.user_id = run["user_id"]
        self.tools = tools
        self.has_llm = provider is not None
        self.models = models
        self.records: Records = TenantRecords(db, self.tenant_id)

    async def credential(self, integration: str) -> str | None:
        """The run's user's credential for an integration, if connected."""
        if not self.user_id:
            return None
        async with self.db.read() as conn:
            row = await connections_store.get(conn, self.tenant_id, self.user_id, integration)
        return None if row is None else self.keys.open(row["secret"])

    async def take_rate(self, key: str, limit: RateLimit) -> float:
        """Draw from the tenant's shared bucket: 0 if granted, else seconds to wait."""
        async with self.db.write() as conn:
            return await rate_limits.take(conn, self.tenant_id, key, limit, utcnow())

    async def complete(
        self, messages: list[JSONObject], call: ModelCall, on_text: OnText | None = None
    ) -> ModelReply:
        """Ask the model's provider: the tenant's, else the server's, else the offline one."""
        provider, model = self.provider, call.get("model")
        if self.models is not None:
            provider = await self.models.provider_for(self.tenant_id, model)
            known = model is None or await self.models.model_info(self.tenant_id, model)
            if not known and provider.name == "offline":
                # Answering offline in its place would hide the mistake.
                raise RunError(
                    f"unknown model {model!r}: not in the model catalogue, and no model "
                    "provider is configured to serve it",
                    code="unknown_model",
                )
        done = await provider.complete(
            messages,
            model=call.get("model"),
            temperature=call.get("temperature"),
            json_mode=bool(call.get("json_mode")),
            json_schema=call.get("json_schema"),
            tools=call.get("tools"),
            reasoning_effort=call.get("reasoning_effort"),
            documents=call.get("documents"),
            on_delta=on_text,
        )
        return {
            "text": done.text,
            "model": done.model,
            "provider": done.provider or provider.name,
            "usage": dict(done.usage),
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in done.tool_calls
            ],
            "citations": [dict(c) for c in done.citations],
        }
