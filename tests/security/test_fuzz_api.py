"""Schemathesis against ``/openapi.json``: every operation, native and Agent Protocol.

With a valid key and with a bad one, one operation at a time and in sequences that
follow the links between operations: no response is a 5xx, every status is
documented, and every body and content type matches the document. Generation is
derandomized (fixed seed, no example database), so CI fuzzes the same cases each time.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fuzzing import BASE_URL, InProcessSession, load_schema, unreadable
from schemathesis import checks

from runplane.api.dialects._route import STATUS_MAP
from runplane.services import auth
from runplane.services.runtime import Runtime

pytestmark = [
    # Schemathesis's own strategies trip a Hypothesis deprecation; not ours to fix.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]
schema = load_schema(
    {
        "seed": 11,
        "generation": {
            "max-examples": 10,
            "deterministic": True,
            "database": "none",
            "with-security-parameters": False,
        },
        "phases": {"coverage": {"enabled": False}},
    }
)
# What the fuzzer did, by kind of test; printed at the end of the module.
TOTALS: Counter[str] = Counter()
SEEN: set[tuple[str, str]] = set()


@pytest.fixture(scope="session")
async def app_loop(app: FastAPI) -> asyncio.AbstractEventLoop:
    """The loop the app's lifespan (its pools, its worker) runs on."""
    return asyncio.get_running_loop()


@pytest.fixture(scope="session")
async def fuzz_key(app: FastAPI) -> str:
    """An admin key of a tenant of the fuzzer's own."""
    rt: Runtime = app.state.rt
    return await auth.create_key(rt.db, f"fuzz-{uuid.uuid4().hex[:8]}", None, "admin")


@pytest.fixture(scope="session")
def fuzz_session(app: FastAPI, app_loop: asyncio.AbstractEventLoop) -> InProcessSession:
    """A requests session that reaches the in-process app."""
    return InProcessSession(app, app_loop)


@pytest.fixture(scope="module", autouse=True)
def report_totals(request: pytest.FixtureRequest) -> Iterator[None]:
    """Say how much was fuzzed, for the record (CI logs, the closing note)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not TOTALS:
        return
    with capture.global_and_fixture_disabled():
        totals = ", ".join(f"{k}: {v}" for k, v in sorted(TOTALS.items()))
        reporter.write_line(f"\nfuzzing totals: {totals}")


def count(case: schemathesis.Case, status: int, kind: str) -> None:
    """Add one call to the totals."""
    TOTALS[f"{kind} cases"] += 1
    if (kind, case.operation.label) not in SEEN:
        SEEN.add((kind, case.operation.label))
        TOTALS[f"{kind} operations"] += 1
    TOTALS["responses >= 500"] += status >= 500


def test_the_fuzzed_document_is_the_served_one(fuzz_session: InProcessSession) -> None:
    assert fuzz_session.get(f"{BASE_URL}/openapi.json").json() == schema.raw_schema


# The dialects (docs/dialects.md) answer errors in their own system's model.
DIALECT_ERRORS = {"/toolregistry/": "ToolregistryError"}


def test_every_operation_documents_its_errors_in_the_error_model() -> None:
    for path, operations in schema.raw_schema["paths"].items():
        model = next((m for p, m in DIALECT_ERRORS.items() if path.startswith(p)), "ErrorBody")
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {int(s) for s in responses if int(s) >= 400}
            assert all(_error_model(responses[str(s)]) == model for s in errors), (method, path)
            if operation.get("security"):
                assert {400, 401, 429} <= errors, (method, path)
                if method in ("post", "put", "patch", "delete"):
                    assert 403 in errors, (method, path)
                assert "Retry-After" in responses["429"]["headers"]
            if "requestBody" in operation:
                # A dialect answers runplane's 422 with its own status (Kognitos: 400).
                invalid = operation.get(STATUS_MAP, {}).get("422", 422)
                assert {400, 413, invalid} <= errors, (method, path)


def _error_model(response: dict[str, Any]) -> str:
    """The error model a response documents; a dialect's 400 and 413 may also be
    runplane's (the middleware refuses unreadable requests before any route)."""
    schema = response["content"]["application/json"]["schema"]
    refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
    names = [r.removeprefix("#/components/schemas/") for r in refs]
    return names[0] if names[1:] in ([], ["ErrorBody"]) else "?"


# Under pytest-xdist, schemathesis runs every operation of a test in one item.
@pytest.mark.timeout(600)
@schema.parametrize()
def test_every_operation_answers_as_documented_with_a_valid_key(
    case: schemathesis.Case, fuzz_session: InProcessSession, fuzz_key: str
) -> None:
    response = case.call(session=fuzz_session, headers={"Authorization": f"Bearer {fuzz_key}"})
    count(case, response.status_code, "valid key")
    case.validate_response(response, checks=CHECKS)


@pytest.mark.timeout(600)
@schema.parametrize()
@hypothesis.settings(max_examples=4)
def test_every_private_operation_refuses_a_bad_key(
    case: schemathesis.Case, fuzz_session: InProcessSession
) -> None:
    response = case.call(session=fuzz_session, headers={"Authorization": "Bearer rp_not_a_key"})
    count(case, response.status_code, "bad key")
    case.validate_response(response, checks=CHECKS)
    if case.operation.definition.raw.get("security"):
        # Only a request that cannot be read at all is answered before the key is checked.
        assert response.status_code == 401 or unreadable(response), response.text


@pytest.mark.timeout(300)
def test_sequences_of_calls_answer_as_documented(
    fuzz_session: InProcessSession, fuzz_key: str
) -> None:
    failures: list[str] = []
    before = TOTALS["stateful cases"]

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"session": fuzz_session, "headers": {"Authorization": f"Bearer {fuzz_key}"}}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            count(case, response.status_code, "stateful")

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, *_: Any, **kw: Any
        ) -> None:
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kw)
            except Exception as exc:
                failures.append(f"{case.operation.label}: {exc}")
                raise

    try:
        Sequences.run(
            settings=hypothesis.settings(
                max_examples=20,
                stateful_step_count=6,
                deadline=None,
                derandomize=True,
                database=None,
                # A replayed sequence meets other answers (links need ids the server made):
                # shrinking it would not be shrinking the same case.
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=list(hypothesis.HealthCheck),
            )
        )
    except hypothesis.errors.FlakyStrategyDefinition:
        # For the same reason hypothesis may stop, finding a sequence's choices changed
        # between cases; every call made until then was checked, and failures recorded.
        pass
    assert failures == []
    assert TOTALS["stateful cases"] - before >= 20
