"""The store (long-term memory for graphs): items in namespaces, per tenant."""

from langgraph.store.base import Item, SearchItem

from runplane.domain.errors import Invalid, NotFound
from runplane.domain.json import PLAIN_KEY, JSONObject, not_plain
from runplane.domain.models import Principal
from runplane.domain.roles import Permission
from runplane.graphs.tenant_store import TenantStore
from runplane.schemas.agent_protocol import ItemPut, ItemSearch, NamespaceSearch, ts
from runplane.services.runtime import Runtime


def _store(rt: Runtime, who: Principal) -> TenantStore:
    if rt.graphs.store is None:
        raise NotFound("this server hosts no graphs, so it has no store")
    return TenantStore(rt.graphs.store, who.tenant_id)


def _ns(namespace: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    for part in namespace:
        if not part or "." in part:
            raise Invalid.field("namespace", "namespace labels are non-empty and have no '.'", part)
    if namespace and namespace[0] == "langgraph":
        raise Invalid.field("namespace", "the namespace 'langgraph' is reserved", namespace[0])
    return tuple(namespace)


def item_json(item: Item) -> JSONObject:
    """A store item as the protocol shows it."""
    out: JSONObject = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": ts(item.created_at),
        "updated_at": ts(item.updated_at),
    }
    if isinstance(item, SearchItem) and item.score is not None:
        out["score"] = item.score
    return out


async def put(rt: Runtime, who: Principal, body: ItemPut) -> None:
    """Write an item."""
    who.require(Permission.CREATE_RUNS)
    await _store(rt, who).aput(_ns(body.namespace), body.key, body.value)


async def get(rt: Runtime, who: Principal, namespace: list[str], key: str) -> JSONObject:
    """Read an item, or NotFound."""
    item = await _store(rt, who).aget(_ns(namespace), key)
    if item is None:
        raise NotFound(f"no item {key!r} in {'.'.join(namespace)}", [{"name": "key", "value": key}])
    return item_json(item)


async def delete(rt: Runtime, who: Principal, namespace: list[str], key: str) -> None:
    """Delete an item (no error if it is not there)."""
    who.require(Permission.DELETE)
    await _store(rt, who).adelete(_ns(namespace), key)


async def search(rt: Runtime, who: Principal, body: ItemSearch) -> list[JSONObject]:
    """Items under a namespace prefix, filtered by value fields."""
    for key in not_plain(body.filter):
        # LangGraph's stores refuse (or, in older versions, build SQL from) other keys.
        raise Invalid.field("filter", f"filter key {key!r} must match {PLAIN_KEY.pattern}", key)
    items = await _store(rt, who).asearch(
        _ns(body.namespace_prefix),
        filter=body.filter,
        limit=body.limit,
        offset=body.offset,
        query=body.query,
    )
    return [item_json(i) for i in items]


async def namespaces(rt: Runtime, who: Principal, body: NamespaceSearch) -> list[list[str]]:
    """The namespaces in use, by prefix, suffix and depth."""
    found = await _store(rt, who).alist_namespaces(
        prefix=_ns(body.prefix) if body.prefix else None,
        suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return [list(ns) for ns in found]
