"""Graphs declared in ``runplane.toml``: ``[graphs] name = "path/to/file.py:attribute"``.

The attribute is a compiled graph, or a factory that takes the run's config and
returns one (sync or async), as in ``langgraph.json``.
"""

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runplane.agents.spec import AgentSpec
from runplane.domain.errors import Invalid


@dataclass
class GraphSpec:
    """One declared graph: where it comes from and the object found there."""

    name: str
    ref: str
    target: Any
    source_hash: str

    @property
    def is_factory(self) -> bool:
        """Whether the graph is built per run from its config."""
        return not hasattr(self.target, "astream")

    async def build(self, config: dict[str, Any]) -> Any:
        """The compiled graph for a run with this config."""
        if not self.is_factory:
            return self.target
        params = inspect.signature(self.target).parameters
        graph = self.target(config) if params else self.target()
        if inspect.isawaitable(graph):
            graph = await graph
        if hasattr(graph, "compile") and not hasattr(graph, "astream"):
            graph = graph.compile()
        return graph


async def _hosted(ctx: Any, value: Any) -> Any:
    """Stand-in entry point: graph agents are executed by the graph host."""
    raise RuntimeError("a graph agent runs through runplane.graphs.host")


def load_graph(root: Path, name: str, ref: str) -> GraphSpec:
    """Import ``path/to/file.py:attribute`` (or ``package.module:attribute``)."""
    path_part, sep, attr = ref.rpartition(":")
    if not sep or not path_part or not attr:
        raise Invalid.field(f"graphs.{name}", "expected 'path/to/file.py:attribute'", ref)
    if path_part.endswith(".py"):
        path = (root / path_part).resolve()
        if not path.exists():
            raise Invalid.field(f"graphs.{name}", f"no file {path_part}", ref)
        module_name = f"runplane_graph_{name}_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        source = path.read_bytes()
    else:
        module = importlib.import_module(path_part)
        source = Path(inspect.getfile(module)).read_bytes()
    target = getattr(module, attr, None)
    if target is None:
        raise Invalid.field(f"graphs.{name}", f"{path_part} has no attribute {attr!r}", ref)
    digest = hashlib.sha256(source + ref.encode()).hexdigest()
    return GraphSpec(name=name, ref=ref, target=target, source_hash=digest)


def agent_spec(graph: GraphSpec) -> AgentSpec:
    """The runplane agent of kind ``langgraph`` that stands for a graph."""
    description = None
    if not graph.is_factory:
        description = inspect.getdoc(inspect.getmodule(graph.target)) or None
    spec = AgentSpec(
        name=graph.name,
        fn=_hosted,
        description=description or f"LangGraph graph {graph.ref}",
        kind="langgraph",
        entrypoint=graph.ref,
    )
    spec._hash = hashlib.sha256(
        (graph.source_hash + str(sorted(spec.config().items()))).encode()
    ).hexdigest()
    return spec
