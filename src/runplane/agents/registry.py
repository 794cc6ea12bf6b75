"""The project file (``runplane.toml``) and the agents it loads."""

import importlib
import inspect
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from runplane.agents.graphs import GraphSpec, agent_spec, load_graph
from runplane.agents.spec import AGENT_ATTR, NAME_PATTERN, AgentSpec
from runplane.agents.tools import TOOL_ATTR, ToolSpec
from runplane.domain.errors import Invalid

# Agents every server has, whatever its project file says.
BUILTIN_MODULES = ("runplane.builtins.intent",)


@dataclass
class Project:
    """The agents a server serves, loaded from its project file."""

    name: str = "runplane"
    root: Path = Path(".")
    publish: str = "auto"
    agents: dict[str, AgentSpec] = field(default_factory=dict)
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    graphs: dict[str, GraphSpec] = field(default_factory=dict)
    # Benchmark files (``runplane bench create --file`` format) every tenant gets.
    benchmarks: list[Path] = field(default_factory=list)

    def get(self, name: str) -> AgentSpec | None:
        """The loaded agent with this name, if any."""
        return self.agents.get(name)

    @property
    def integrations(self) -> set[str]:
        """The integrations some loaded tool reaches."""
        return {t.integration for t in self.tools.values() if t.integration}


def load_project(path: Path) -> Project:
    """Read ``runplane.toml`` and import the modules it names.

    A missing file gives an empty project, so a server can start before agents exist.
    """
    path = Path(path)
    if not path.exists():
        project = Project()
        _load_modules(project, BUILTIN_MODULES)
        return project
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise Invalid.field("project", f"{path}: {exc}", str(path)) from exc
    section = data.get("project", {})
    root = path.resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    project = Project(
        name=section.get("name", root.name),
        root=root,
        publish=section.get("publish", "auto"),
    )
    if project.publish not in ("auto", "manual"):
        raise Invalid.field("project.publish", "publish must be 'auto' or 'manual'")
    _load_modules(project, [*BUILTIN_MODULES, *section.get("modules", [])])
    benchmarks = section.get("benchmarks", [])
    if not isinstance(benchmarks, list) or not all(isinstance(b, str) for b in benchmarks):
        raise Invalid.field("project.benchmarks", "benchmarks lists benchmark files (JSON)")
    project.benchmarks = [root / b for b in benchmarks]
    graphs = data.get("graphs", {})
    if not isinstance(graphs, dict):
        raise Invalid.field("graphs", "[graphs] maps names to 'path/to/file.py:attribute'")
    for name, ref in graphs.items():
        graph = load_graph(root, name, str(ref))
        add_agent(project, agent_spec(graph))
        project.graphs[name] = graph
    return project


def _load_modules(project: Project, names: "list[str] | tuple[str, ...]") -> None:
    for module_name in names:
        module = importlib.import_module(module_name)
        for _, obj in inspect.getmembers(module):
            spec = getattr(obj, AGENT_ATTR, None)
            if isinstance(spec, AgentSpec) and spec.fn is obj:
                add_agent(project, spec)
            tool_spec = getattr(obj, TOOL_ATTR, None)
            if isinstance(tool_spec, ToolSpec) and tool_spec.fn is obj:
                add_tool(project, tool_spec)


def add_tool(project: Project, spec: ToolSpec) -> None:
    """Register one tool, refusing duplicate names."""
    other = project.tools.get(spec.name)
    if other is not None and other is not spec:
        raise Invalid.field("tool.name", f"two tools are named {spec.name!r}", spec.name)
    project.tools[spec.name] = spec


def add_agent(project: Project, spec: AgentSpec) -> None:
    """Register one agent, refusing bad or duplicate names."""
    if not re.match(NAME_PATTERN, spec.name):
        raise Invalid.field("agent.name", f"bad agent name {spec.name!r}", spec.name)
    other = project.agents.get(spec.name)
    if other is not None and other is not spec:
        raise Invalid.field("agent.name", f"two agents are named {spec.name!r}", spec.name)
    project.agents[spec.name] = spec
