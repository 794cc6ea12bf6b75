"""The architecture's boundaries, checked."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

SRC = Path(__file__).resolve().parents[1] / "src" / "runplane"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_core_imports_no_framework() -> None:
    for path in (SRC / "domain").glob("*.py"):
        assert not imports_of(path) & {"fastapi", "starlette", "sqlalchemy", "dbos"}, path


def test_only_the_dbos_engine_imports_dbos() -> None:
    users = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "dbos" in imports_of(p)}
    assert users == {"engine/dbos.py"}


def test_the_client_imports_only_schemas_and_httpx() -> None:
    for path in (SRC / "client").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("runplane")
            ):
                assert node.module.startswith(("runplane.schemas", "runplane.client")), (
                    path,
                    node.module,
                )


def test_only_the_outbound_fence_calls_out_over_http() -> None:
    # Every call the server makes goes through runplane.outbound (the address fence); the
    # Python client (the user's own calls) and the shipped test helpers are exempt.
    exempt = ("outbound/", "client/", "testing/")
    users = {
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if imports_of(p) & {"httpx", "httpx2", "httpcore", "requests", "aiohttp", "urllib3"}
    }
    assert {u for u in users if not u.startswith(exempt)} == set()


def test_no_http_exceptions_below_the_api_layer() -> None:
    for pkg in ("services", "store", "engine", "domain", "agents"):
        for path in (SRC / pkg).rglob("*.py"):
            assert "HTTPException" not in path.read_text(), path


# -- layers and cycles -------------------------------------------------------------------

# Each top-level part of the package, by layer: a module may import its own part and the
# parts of lower layers, never a higher layer or another part of its own layer. The
# package root (``runplane/__init__.py``) is the public API and may re-export any layer.
LAYERS: list[set[str]] = [
    {"domain", "version", "settings", "logs"},  # pure: no framework, no database
    {"schemas"},  # wire models, shared by the API and the client
    {"outbound"},  # every outgoing HTTP call: fenced, pinned, signed
    {"store", "providers", "client"},  # the database, model vendors, the HTTP client
    {"agents"},  # what agents and tools are, and loading them
    {"engine"},  # durable execution: the worker, the journal, governance
    {"graphs", "builtins"},  # LangGraph hosting; the built-in agents
    {"services"},  # use cases
    {"api", "admin"},  # HTTP (parse, authenticate, call one service); offline admin tasks
    {"console"},  # the web console, on the API's HTTP helpers
    {"app"},  # the app factory: the API and the console in one ASGI app
    {"server"},  # serving the app (uvicorn, processes)
    {"cli", "testing"},  # the command line; shipped test helpers
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _runplane_imports(path: Path, known: set[str]) -> set[str]:
    """Every module of ours this file imports, at module level or inside functions
    (imports under ``if TYPE_CHECKING:`` do not run, and are left out)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skipped.update(id(n) for sub in node.body for n in ast.walk(sub))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    deps = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name.startswith("runplane."):
            deps.add(name)
    return deps


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _runplane_imports(p, known) - {m} for m, p in modules.items()}


def _part(module: str) -> str:
    return module.split(".")[1]


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(m) for m in _graph() if m != "runplane"}
    assert parts <= set(RANK), f"give these a layer in LAYERS: {sorted(parts - set(RANK))}"


def test_no_import_runs_against_the_layer_order() -> None:
    wrong = []
    for module, deps in _graph().items():
        if module == "runplane":
            continue
        mine = _part(module)
        for dep in deps:
            theirs = _part(dep) if dep != "runplane" else None
            if theirs == mine:
                continue
            if theirs is None or RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} -> {dep}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_no_module_imports_itself_back_through_others() -> None:
    graph = _graph()
    cycles = _strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other (size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


# -- no Any in the signatures of the core ------------------------------------------------

# What these parts' functions take and give is typed: JSON values as ``domain.json.JSON``,
# rows as the records of ``domain.models``, values nobody looks into as ``object``.
TYPED_PARTS = ("domain", "store", "engine", "services")


def _mentions_any(annotation: ast.expr) -> bool:
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id == "Any":
            return True
        if isinstance(node, ast.Attribute) and node.attr == "Any":
            return True  # typing.Any
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                quoted = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                continue  # a Literal's string, not a quoted annotation
            if _mentions_any(quoted):
                return True
    return False


def _annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    found = [p.annotation for p in params if p is not None and p.annotation is not None]
    return found if node.returns is None else [*found, node.returns]


def any_in_signatures(path: Path, root: Path = SRC) -> list[str]:
    """``file:line:function`` for each function in ``path`` whose signature mentions Any."""
    return [
        f"{path.relative_to(root).as_posix()}:{node.lineno}:{node.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_mentions_any(a) for a in _annotations(node))
    ]


def test_no_signature_in_domain_store_engine_or_services_mentions_any() -> None:
    offenders = [
        where
        for part in TYPED_PARTS
        for path in sorted((SRC / part).rglob("*.py"))
        if "migrations" not in path.relative_to(SRC).parts
        for where in any_in_signatures(path)
    ]
    assert not offenders, "signatures that mention Any:\n" + "\n".join(offenders)


def test_the_any_check_looks_at_every_part_of_a_signature(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import typing\n"
        "from typing import Any, Literal\n"
        "def param(x: Any) -> None: ...\n"
        "def star(*args: Any) -> None: ...\n"
        "async def kwargs(**kw: 'dict[str, Any]') -> None: ...\n"
        "def keyword_only(*, y: list[Any] | None = None) -> None: ...\n"
        "def returns() -> typing.Any: ...\n"
        "class C:\n"
        "    def method(self, x: int) -> 'Any': ...\n"
        "def clean(x: object, *a: int, k: Literal['*'] = '*', **kw: str) -> dict[str, int]: ...\n"
        "def body_only(x: int) -> int:\n"
        "    y: Any = x\n"
        "    return int(y)\n"
    )
    found = {where.split(":")[2] for where in any_in_signatures(probe, tmp_path)}
    assert found == {"param", "star", "kwargs", "keyword_only", "returns", "method"}
