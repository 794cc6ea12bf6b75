"""The LLM-judge scorer: the tenant's model grades a run's output 1–5 against a rubric.

The judge is asked for one JSON object ``{"score": 1-5, "reason": "…"}``. It passes at
``min_score`` (default 4); its normalised score is (s − 1) / 4 and its ``value`` the
1–5 score. An answer that is not such an object is asked for once more, then the verdict
fails saying so; a call that fails fails the verdict (a benchmark never crashes on its
judge). With no model provider configured (only the offline default) the verdict fails
with "no model provider is configured": the offline model cannot judge.
"""

import json
import re
from typing import Any

from runplane.domain.errors import RunError
from runplane.domain.json import JSON, JSONObject
from runplane.domain.scoring import Facts, Verdict, verdict
from runplane.providers import ModelProvider, OfflineProvider
from runplane.services.runtime import Runtime

NO_PROVIDER = "no model provider is configured"
# Long outputs are cut: a judge's prompt stays well inside any context window.
MAX_TEXT = 12_000

SYSTEM = (
    "You are a strict grader of an AI agent's output. Grade the OUTPUT against the RUBRIC "
    "(and the REFERENCE, when one is given) on a scale of 1 (fails the rubric) to 5 (fully "
    "meets it). Answer with one JSON object and nothing else: "
    '{"score": <integer 1-5>, "reason": "<one or two sentences>"}'
)
RETRY = (
    "That was not one JSON object with an integer score from 1 to 5. Answer again with "
    'exactly {"score": <integer 1-5>, "reason": "<why>"}.'
)


async def judge(
    rt: Runtime,
    tenant_id: str,
    spec: JSONObject,
    facts: Facts,
    *,
    provider: ModelProvider | None = None,
) -> Verdict:
    """Grade one run's output with the tenant's model (or ``provider``) against the rubric."""
    minimum = _min_score(spec)
    named = spec.get("model")
    model = named if isinstance(named, str) else None
    if facts.status != "succeeded":
        return verdict(spec, False, 0.0, f"the run {facts.status}; there is no output to judge")
    if provider is None:
        provider = await rt.hooks.models.provider_for(tenant_id, model)
    if isinstance(provider, OfflineProvider):
        return verdict(spec, False, 0.0, NO_PROVIDER)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _prompt(spec, facts)},
    ]
    for attempt in range(2):
        try:
            answer = await provider.complete(messages, model=model, temperature=0.0, json_mode=True)
        except RunError as exc:
            return verdict(spec, False, 0.0, f"the judge's model failed: {exc}")
        graded = parse_grade(answer.text)
        if graded is not None:
            grade, reason = graded
            passed = grade >= minimum
            why = f"judged {grade}/5 (passes at {minimum}): {reason}".rstrip(": ")
            return verdict(spec, passed, (grade - 1) / 4, why, float(grade))
        if attempt == 0:
            messages += [
                {"role": "assistant", "content": answer.text},
                {"role": "user", "content": RETRY},
            ]
    return verdict(
        spec,
        False,
        0.0,
        "the judge's answer was not a score from 1 to 5, twice: " + _cut(answer.text, 200),
    )


def parse_grade(text: str) -> tuple[int, str] | None:
    """The ``(score, reason)`` of a judge's answer, or None when it holds no 1–5 score."""
    candidates = [text.strip()]
    # Models wrap JSON in code fences or a sentence despite being asked not to.
    found = re.search(r"\{.*\}", text, re.DOTALL)
    if found:
        candidates.append(found.group(0))
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        grade = data.get("score")
        if isinstance(grade, bool) or not isinstance(grade, int | float):
            continue
        if grade != int(grade) or not 1 <= grade <= 5:
            continue
        return int(grade), str(data.get("reason") or "").strip()
    return None


def _min_score(spec: JSONObject) -> int:
    value = spec.get("min_score", 4)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 4


def _text(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True)


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + " …[cut]"


def _prompt(spec: JSONObject, facts: Facts) -> str:
    parts = [f"RUBRIC:\n{_cut(str(spec.get('rubric') or ''))}"]
    if facts.reference is not None:
        parts.append(f"REFERENCE:\n{_cut(_text(facts.reference))}")
    parts.append(f"OUTPUT:\n{_cut(_text(facts.output))}")
    return "\n\n".join(parts)
