"""The LLM judge: a stub OpenAI server grades outputs; the judge parses, retries and fails plainly."""

import json
from typing import Any

import httpx
import pytest

from runplane.domain.json import JSONObject
from runplane.domain.scoring import Facts
from runplane.providers.openai import OpenAIProvider
from runplane.services.judge import NO_PROVIDER, judge, parse_grade
from runplane.services.runtime import Runtime
from runplane.store import runs as runs_store
from runplane.testing.fake_model import FakeModelError, asgi_transport, fake_openai_app

SPEC: JSONObject = {
    "type": "llm_judge",
    "name": "tone",
    "rubric": "Polite and correct.",
    "min_score": 4,
}
FACTS = Facts(output="Paris is the capital of France.", reference="Paris")


def stub(*answers: str) -> tuple[OpenAIProvider, list[dict[str, Any]]]:
    """A provider whose model answers ``answers`` in turn; and the requests it received."""
    queue = list(answers)

    def reply(messages: list[dict[str, Any]]) -> str:
        if not queue:
            raise FakeModelError(400, "no more answers scripted")
        return queue.pop(0)

    app = fake_openai_app(reply)
    provider = OpenAIProvider(
        model="judge-1", base_url="http://fake/v1", transport=asgi_transport(app), max_retries=0
    )
    return provider, app.state.requests


async def test_a_grade_of_five_passes_with_a_full_score_and_the_grade_as_value(rt: Runtime) -> None:
    provider, requests = stub(json.dumps({"score": 5, "reason": "Correct and polite."}))
    v = await judge(rt, "t-judge", SPEC, FACTS, provider=provider)
    assert (v.scorer, v.type, v.passed, v.score, v.value) == ("tone", "llm_judge", True, 1.0, 5.0)
    assert "Correct and polite." in v.reason
    (request,) = requests
    prompt = request["messages"][-1]["content"]
    assert "Polite and correct." in prompt and "REFERENCE:\nParis" in prompt
    assert "OUTPUT:\nParis is the capital of France." in prompt
    assert request["response_format"] == {"type": "json_object"}


async def test_a_grade_below_min_score_fails_with_its_normalised_score(rt: Runtime) -> None:
    provider, _ = stub('```json\n{"score": 3, "reason": "Curt."}\n```')
    v = await judge(rt, "t-judge", SPEC, FACTS, provider=provider)
    assert (v.passed, v.score, v.value) == (False, 0.5, 3.0)
    assert "3/5" in v.reason and "Curt." in v.reason


async def test_an_unparseable_answer_is_asked_once_more(rt: Runtime) -> None:
    provider, requests = stub("It is fine, I'd say 4.", '{"score": 4, "reason": "ok"}')
    v = await judge(rt, "t-judge", SPEC, FACTS, provider=provider)
    assert v.passed and v.value == 4.0 and v.score == 0.75
    assert len(requests) == 2
    assert requests[1]["messages"][-2]["content"] == "It is fine, I'd say 4."


async def test_two_unparseable_answers_fail_the_verdict_saying_so(rt: Runtime) -> None:
    provider, requests = stub("great!", '{"score": 9}')
    v = await judge(rt, "t-judge", SPEC, FACTS, provider=provider)
    assert not v.passed and v.score == 0.0 and v.value is None
    assert "not a score from 1 to 5" in v.reason
    assert len(requests) == 2


async def test_a_failing_model_call_is_a_failed_verdict_not_a_crash(rt: Runtime) -> None:
    provider, _ = stub()  # nothing scripted: the stub answers 400
    v = await judge(rt, "t-judge", SPEC, FACTS, provider=provider)
    assert not v.passed and "the judge's model failed" in v.reason


async def test_without_a_model_provider_the_verdict_fails_plainly(rt: Runtime) -> None:
    # The in-process app has no server provider and this tenant none of its own: offline.
    v = await judge(rt, "t-no-provider", SPEC, FACTS)
    assert (v.passed, v.score, v.reason) == (False, 0.0, NO_PROVIDER)


async def test_a_failed_run_is_not_sent_to_the_judge(rt: Runtime) -> None:
    provider, requests = stub('{"score": 5, "reason": "x"}')
    v = await judge(rt, "t-judge", SPEC, Facts(output=None, status="failed"), provider=provider)
    assert not v.passed and "failed" in v.reason and requests == []


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"score": 2, "reason": "meh"}', (2, "meh")),
        ('Sure! {"score": 5.0, "reason": "good"} done', (5, "good")),
        ('{"score": "5"}', None),
        ('{"score": 0}', None),
        ('{"score": 3.5}', None),
        ("[1, 2]", None),
    ],
)
def test_parse_grade_accepts_only_an_integer_from_one_to_five(
    text: str, want: tuple[int, str] | None
) -> None:
    assert parse_grade(text) == want


async def test_scoring_a_run_with_a_judge_and_no_provider_fails_that_verdict_only(
    api: httpx.AsyncClient,
) -> None:
    scorers = [
        {"type": "regex", "pattern": "."},
        {"type": "llm_judge", "name": "judge", "rubric": "Echoes the input."},
    ]
    made = await api.post(
        "/v1/benchmarks", json={"agent_id": "echo", "name": "judged", "scorers": scorers}
    )
    assert made.status_code == 201, made.text
    run = (
        await api.post("/v1/runs", json={"agent_id": "echo", "input": {"x": 1}, "wait": 20})
    ).json()
    assert run["status"] == "succeeded", run
    scored = await api.post(f"/v1/runs/{run['id']}/score", json={"benchmark_id": made.json()["id"]})
    assert scored.status_code == 201, scored.text
    verdicts = {v["scorer"]: v for v in scored.json()["scores"]}
    assert verdicts["regex"]["passed"] is True
    assert verdicts["judge"] == {
        "scorer": "judge",
        "type": "llm_judge",
        "passed": False,
        "score": 0.0,
        "reason": NO_PROVIDER,
        "value": None,
    }


async def test_the_judge_asks_the_tenants_own_provider(api: httpx.AsyncClient, rt: Runtime) -> None:
    # A provider on a loopback port: the router picks it, not the offline model; this
    # server's outgoing-call fence refuses loopback, so the call fails, and says so.
    provider = {
        "kind": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "sk-x",
        "default": True,
    }
    assert (await api.put("/v1/model-providers/judge", json=provider)).status_code == 200
    run = (await api.post("/v1/runs", json={"agent_id": "echo", "input": {}, "wait": 20})).json()
    async with rt.db.read() as conn:
        row = await runs_store.get_run(conn, None, run["id"])
    assert row is not None
    v = await judge(rt, row["tenant_id"], {"type": "llm_judge", "rubric": "r"}, FACTS)
    assert not v.passed and v.reason.startswith("the judge's model failed"), v.reason
    assert "refused" in v.reason
