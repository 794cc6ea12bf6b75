"""One tenant's view of langgraph's store: its namespaces sit under the tenant's id.

Graphs (``runtime.store``) and the ``/store`` API both go through this view, so an
item a graph writes is the item the API reads, and no tenant sees another's.
"""

from collections.abc import Iterable
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)


class TenantStore(BaseStore):
    """A store whose every namespace is prefixed with the tenant's id."""

    def __init__(self, store: BaseStore, tenant_id: str) -> None:
        self.store = store
        self.tenant = (tenant_id,)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations (from a sync node's thread)."""
        return [self._out(r) for r in self.store.batch([self._in(op) for op in ops])]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run operations."""
        return [self._out(r) for r in await self.store.abatch([self._in(op) for op in ops])]

    def _in(self, op: Op) -> Op:
        if isinstance(op, GetOp | PutOp):
            return op._replace(namespace=self.tenant + tuple(op.namespace))
        if isinstance(op, SearchOp):
            return op._replace(namespace_prefix=self.tenant + tuple(op.namespace_prefix))
        if isinstance(op, ListNamespacesOp):
            conditions = list(op.match_conditions or ())
            prefixes = [c for c in conditions if c.match_type == "prefix"]
            others = [c for c in conditions if c.match_type != "prefix"]
            path = self.tenant + (tuple(prefixes[0].path) if prefixes else ())
            depth = op.max_depth + 1 if op.max_depth is not None else None
            return op._replace(
                match_conditions=(MatchCondition("prefix", path), *others), max_depth=depth
            )
        return op

    def _out(self, result: Any) -> Any:
        if isinstance(result, SearchItem):
            return SearchItem(
                result.namespace[1:],
                result.key,
                result.value,
                result.created_at,
                result.updated_at,
                result.score,
            )
        if isinstance(result, Item):
            return Item(
                value=result.value,
                key=result.key,
                namespace=result.namespace[1:],
                created_at=result.created_at,
                updated_at=result.updated_at,
            )
        if isinstance(result, tuple):
            return result[1:]  # a namespace
        if isinstance(result, list):
            return [self._out(r) for r in result]
        return result
