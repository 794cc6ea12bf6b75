"""``runplane models``: the catalogue and model providers from the command line (a real process)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from runplane.testing.server import create_key

RUNPLANE = str(Path(sys.executable).parent / "runplane")

pytestmark = pytest.mark.timeout(90)


def run_cli(
    url: str, key: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPLANE_")}
    env.update({"RUNPLANE_URL": url, "RUNPLANE_API_KEY": key, "COLUMNS": "200"})
    return subprocess.run(
        [RUNPLANE, *args], env=env, input=stdin, capture_output=True, text=True, timeout=30
    )


def test_prices_and_a_provider_set_listed_and_removed_from_the_cli(live_server: Any) -> None:
    url = live_server.server.url
    key = create_key(live_server.server.database_url, tenant=f"cli-{uuid.uuid4().hex[:8]}")

    set_price = run_cli(
        url,
        key,
        "models",
        "set",
        "ollama/llama3.2",
        "--provider",
        "openai",
        "--context-window",
        "8192",
        "--input",
        "0.05",
        "--output",
        "0.1",
    )
    set_provider = run_cli(
        url,
        key,
        "models",
        "provider-set",
        "local",
        "--kind",
        "openai",
        "--base-url",
        "http://127.0.0.1:11434/v1",
        "--api-key-stdin",
        "--default",
        stdin="sk-secret-4321\n",
    )
    listed = run_cli(url, key, "models", "ls")
    providers = run_cli(url, key, "models", "providers")

    assert set_price.returncode == 0, set_price.stderr
    assert set_provider.returncode == 0, set_provider.stderr
    assert "…4321" in set_provider.stdout and "sk-secret" not in set_provider.stdout
    assert "ollama/llama3.2" in listed.stdout and "tenant" in listed.stdout
    assert "gpt-4o-mini" in listed.stdout
    assert "local" in providers.stdout and "sk-secret" not in providers.stdout

    assert run_cli(url, key, "models", "rm", "ollama/llama3.2").returncode == 0
    assert run_cli(url, key, "models", "provider-rm", "local").returncode == 0
    missing = run_cli(url, key, "models", "provider-rm", "local")
    assert missing.returncode != 0 and "local" in missing.stderr
