"""Scorers: how a benchmark judges one run's output, on plain values.

A scorer spec is a JSON object with a ``type`` (one of ``SCORER_TYPES``) and an optional
``name`` (default: the type), the key its pass-rate threshold is set under. ``score``
applies the deterministic ones; ``llm_judge`` needs a model and is applied by the
service that has one (``services``), which builds its verdict with ``verdict``.

Every verdict says whether the run passed, a score from 0 to 1 (means on dashboards are
of these), the scorer's own value where it has one (a latency, a difference, a judge's
1–5) and a reason a person can read.
"""

import importlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from runplane.domain.errors import Invalid
from runplane.domain.json import JSON, JSONObject

SCORER_TYPES = (
    "exact",
    "json_schema",
    "json_fields",
    "contains",
    "regex",
    "numeric",
    "citation",
    "latency",
    "credits",
    "python",
    "llm_judge",
)


@dataclass(frozen=True)
class Facts:
    """What a scorer can look at: the run's output and how it got there, and the reference."""

    output: JSON  # the result's content (a document's text, or the JSON value)
    reference: JSON = None  # the case's expected output (a replay: the recorded run's)
    status: str = "succeeded"
    latency_ms: float | None = None
    credits: float | None = None
    sources: Sequence[Mapping[str, JSON]] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """One scorer's judgement of one run."""

    scorer: str
    type: str
    passed: bool
    score: float
    reason: str
    value: float | None = None

    def as_json(self) -> JSONObject:
        """The verdict as stored in ``benchmark_results.scores``."""
        data: JSONObject = {
            "scorer": self.scorer,
            "type": self.type,
            "passed": self.passed,
            "score": round(self.score, 4),
            "reason": self.reason,
        }
        if self.value is not None:
            data["value"] = self.value
        return data


def scorer_name(spec: Mapping[str, JSON]) -> str:
    """The key a scorer's verdicts and threshold go under."""
    name = spec.get("name")
    return name if isinstance(name, str) and name else str(spec["type"])


def verdict(
    spec: Mapping[str, JSON], passed: bool, score: float, reason: str, value: float | None = None
) -> Verdict:
    """A verdict of this scorer."""
    return Verdict(
        scorer_name(spec), str(spec["type"]), passed, max(0.0, min(1.0, score)), reason, value
    )


def score(spec: Mapping[str, JSON], facts: Facts) -> Verdict:
    """Apply one deterministic scorer (every type but ``llm_judge``) to a run's facts."""
    kind = spec.get("type")
    if facts.status != "succeeded" and kind not in ("latency", "credits"):
        return verdict(spec, False, 0.0, f"the run {facts.status}; there is no output to score")
    scorer = _SCORERS.get(str(kind))
    if scorer is None:
        raise Invalid(
            f"scorer type {kind!r} is not applied here", [{"name": "type", "value": kind}]
        )
    return scorer(spec, facts)


def pass_rates(results: Sequence[Sequence[Mapping[str, JSON]]]) -> dict[str, dict[str, float]]:
    """Per scorer, over many runs' verdicts: ``pass_rate``, ``mean`` score and ``count``."""
    by_name: dict[str, list[Mapping[str, JSON]]] = {}
    for verdicts in results:
        for v in verdicts:
            by_name.setdefault(str(v["scorer"]), []).append(v)
    out: dict[str, dict[str, float]] = {}
    for name, vs in by_name.items():
        scores = [float(v["score"]) for v in vs if isinstance(v.get("score"), int | float)]  # type: ignore[arg-type]
        out[name] = {
            "pass_rate": sum(1 for v in vs if v.get("passed") is True) / len(vs),
            "mean": sum(scores) / len(scores) if scores else 0.0,
            "count": float(len(vs)),
        }
    return out


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` from 0 to 1) of some values; None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def failed_thresholds(
    rates: Mapping[str, Mapping[str, float]], thresholds: Mapping[str, float]
) -> list[JSONObject]:
    """The thresholds (minimum pass rate per scorer) a set of results does not meet."""
    failed: list[JSONObject] = []
    for name, minimum in thresholds.items():
        rate = rates.get(name, {}).get("pass_rate", 0.0)
        if rate + 1e-9 < minimum:
            failed.append({"scorer": name, "pass_rate": round(rate, 4), "threshold": minimum})
    return failed


def diff(output: JSON, reference: JSON) -> JSONObject:
    """A side-by-side comparison: equal, or the changed fields / lines."""
    if output == reference:
        return {"equal": True}
    if isinstance(output, dict) and isinstance(reference, dict):
        keys = sorted(set(output) | set(reference))
        changed = [
            {"field": k, "output": output.get(k), "reference": reference.get(k)}
            for k in keys
            if output.get(k) != reference.get(k)
        ]
        return {"equal": False, "fields": changed}  # type: ignore[dict-item]
    import difflib

    lines = list(
        difflib.unified_diff(
            _text(reference).splitlines(),
            _text(output).splitlines(),
            "reference",
            "output",
            lineterm="",
        )
    )
    return {"equal": False, "lines": lines[:400]}  # type: ignore[dict-item]


# -- the scorers ------------------------------------------------------------------------


def _text(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _at(value: JSON, path: object) -> JSON:
    """The value at a dotted path (``a.b.0``); the whole value for no path."""
    if not isinstance(path, str) or not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _norm(value: JSON, spec: Mapping[str, JSON]) -> JSON:
    if isinstance(value, str):
        if spec.get("ignore_whitespace", True):
            value = " ".join(value.split())
        if spec.get("ignore_case"):
            value = value.lower()
    return value


def _exact(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    out = _norm(_at(f.output, spec.get("field")), spec)
    ref = _norm(_at(f.reference, spec.get("field")), spec)
    if out == ref:
        return verdict(spec, True, 1.0, "the output equals the reference")
    return verdict(spec, False, 0.0, "the output differs from the reference")


def _json_schema(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    import jsonschema  # here: a server that scores nothing need not load it

    try:
        jsonschema.validate(_at(f.output, spec.get("field")), spec.get("schema") or {})
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the output"
        return verdict(spec, False, 0.0, f"{where}: {exc.message}")
    except jsonschema.SchemaError as exc:
        return verdict(spec, False, 0.0, f"the scorer's schema is invalid: {exc.message}")
    return verdict(spec, True, 1.0, "the output matches the schema")


def _json_fields(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    fields = spec.get("fields") or {}
    if isinstance(fields, list):
        fields = {str(name): None for name in fields}
    if not isinstance(fields, dict) or not fields:
        return verdict(spec, False, 0.0, "the scorer names no fields")
    wrong: list[str] = []
    for path, tolerance in fields.items():
        out, ref = _at(f.output, path), _at(f.reference, path)
        if _num(out) is not None and _num(ref) is not None and isinstance(tolerance, int | float):
            if abs(float(out) - float(ref)) > float(tolerance):  # type: ignore[arg-type]
                wrong.append(f"{path}: {out} is not within {tolerance} of {ref}")
        elif out != ref:
            wrong.append(f"{path}: {json.dumps(out)} ≠ {json.dumps(ref)}")
    good = len(fields) - len(wrong)
    if not wrong:
        return verdict(spec, True, 1.0, f"all {len(fields)} fields match")
    return verdict(spec, False, good / len(fields), "; ".join(wrong))


def _contains(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    wanted = spec.get("text")
    needles = (
        wanted if isinstance(wanted, list) else [wanted if wanted is not None else f.reference]
    )
    hay = _text(_at(f.output, spec.get("field")))
    fold = bool(spec.get("ignore_case", True))
    missing = [
        _text(n)
        for n in needles
        if (_text(n).lower() not in hay.lower() if fold else _text(n) not in hay)
    ]
    if not missing:
        return verdict(spec, True, 1.0, f"the output contains all {len(needles)} texts")
    return verdict(
        spec,
        False,
        1 - len(missing) / len(needles),
        "missing: " + ", ".join(repr(m[:80]) for m in missing),
    )


def _regex(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    pattern = str(spec.get("pattern") or "")
    try:
        found = re.search(pattern, _text(_at(f.output, spec.get("field"))), re.MULTILINE)
    except re.error as exc:
        return verdict(spec, False, 0.0, f"the pattern is invalid: {exc}")
    if found:
        return verdict(spec, True, 1.0, f"the output matches /{pattern}/")
    return verdict(spec, False, 0.0, f"the output does not match /{pattern}/")


def _num(value: JSON) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _numeric(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    out = _num(_at(f.output, spec.get("field")))
    ref = _num(spec["expected"] if "expected" in spec else _at(f.reference, spec.get("field")))
    if out is None or ref is None:
        return verdict(spec, False, 0.0, "the output or the reference is not a number")
    gap = abs(out - ref)
    tolerance = float(spec.get("tolerance") or 0.0)  # type: ignore[arg-type]
    if spec.get("relative"):
        tolerance *= abs(ref)
    passed = gap <= tolerance
    closeness = 1.0 if passed else max(0.0, 1 - gap / (abs(ref) or 1.0))
    return verdict(
        spec, passed, closeness, f"{out:g} is {gap:g} from {ref:g} (tolerance {tolerance:g})", gap
    )


_MARKER = re.compile(r"\[(\d+)\]")


def _citation(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    minimum = int(spec.get("min_sources") or 1)  # type: ignore[arg-type]
    if len(f.sources) < minimum:
        return verdict(spec, False, 0.0, f"{len(f.sources)} sources; at least {minimum} wanted")
    text = _text(f.output)
    paragraphs = [
        p for p in re.split(r"\n\s*\n", text) if p.strip() and not p.lstrip().startswith("#")
    ]
    body = [p for p in paragraphs if not re.match(r"\s*\d+\.\s", p)]
    cited = [p for p in body if _MARKER.search(p)]
    markers = {int(m) for p in cited for m in _MARKER.findall(p)}
    dangling = sorted(m for m in markers if not 1 <= m <= len(f.sources))
    if dangling:
        return verdict(spec, False, 0.0, f"markers {dangling} name no source")
    if not body:
        return verdict(spec, True, 1.0, f"{len(f.sources)} sources")
    share = len(cited) / len(body)
    needed = float(spec.get("min_cited") or 1.0)  # type: ignore[arg-type]
    return verdict(
        spec,
        share + 1e-9 >= needed,
        share,
        f"{len(cited)} of {len(body)} paragraphs cite one of {len(f.sources)} sources",
    )


def _latency(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    limit = float(spec.get("max_ms") or 0.0)  # type: ignore[arg-type]
    if f.latency_ms is None:
        return verdict(spec, False, 0.0, "the run's latency is unknown")
    passed = f.latency_ms <= limit
    return verdict(
        spec,
        passed,
        1.0 if passed else limit / f.latency_ms,
        f"{f.latency_ms:.0f} ms (limit {limit:g} ms)",
        f.latency_ms,
    )


def _credits(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    limit = float(spec.get("max") or 0.0)  # type: ignore[arg-type]
    spent = f.credits or 0.0
    passed = spent <= limit
    return verdict(
        spec,
        passed,
        1.0 if passed else (limit / spent if spent else 0.0),
        f"{spent:g} credits (limit {limit:g})",
        spent,
    )


def load_python_scorer(path: str) -> Callable[..., object]:
    """The function a ``python`` scorer names as ``module:function`` (Invalid if none)."""
    module_name, _, attr = path.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr) if attr else None
    except (ImportError, AttributeError, ValueError):
        fn = None
    if not callable(fn):
        raise Invalid(
            f"no scorer function at {path!r} (module:function)", [{"name": "path", "value": path}]
        )
    return fn  # type: ignore[no-any-return]


def _python(spec: Mapping[str, JSON], f: Facts) -> Verdict:
    fn = load_python_scorer(str(spec.get("path") or ""))
    try:
        got = fn(f.output, f.reference, f)
    except Exception as exc:  # the user's scorer failing is a failed verdict, not a crash
        return verdict(spec, False, 0.0, f"the scorer raised {type(exc).__name__}: {exc}")
    if isinstance(got, bool):
        return verdict(spec, got, 1.0 if got else 0.0, "passed" if got else "failed")
    if isinstance(got, int | float) and math.isfinite(got):
        threshold = float(spec.get("pass_at") or 0.5)  # type: ignore[arg-type]
        return verdict(
            spec, got >= threshold, float(got), f"score {got:g} (passes at {threshold:g})"
        )
    if isinstance(got, Mapping):
        s = float(got.get("score", 1.0 if got.get("passed") else 0.0))
        return verdict(spec, bool(got.get("passed", s >= 0.5)), s, str(got.get("reason", "")))
    return verdict(
        spec, False, 0.0, f"the scorer returned {type(got).__name__}, not bool, number or dict"
    )


_SCORERS: dict[str, Callable[[Mapping[str, JSON], Facts], Verdict]] = {
    "exact": _exact,
    "json_schema": _json_schema,
    "json_fields": _json_fields,
    "contains": _contains,
    "regex": _regex,
    "numeric": _numeric,
    "citation": _citation,
    "latency": _latency,
    "credits": _credits,
    "python": _python,
}
