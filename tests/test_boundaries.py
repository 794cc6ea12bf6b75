"""The architecture's boundaries, checked."""

import ast
from pathlib import Path

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


def test_no_http_exceptions_below_the_api_layer() -> None:
    for pkg in ("services", "store", "engine", "domain", "agents"):
        for path in (SRC / pkg).rglob("*.py"):
            assert "HTTPException" not in path.read_text(), path
