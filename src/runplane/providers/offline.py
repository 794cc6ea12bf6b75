"""The offline provider: no model at all, deterministic and still useful.

Labelled ``provider="offline"``, ``model="offline"`` in every reply. What it does:

- **Documents** (the run's files): their passages (paragraphs, long ones cut into a few
  sentences) are ranked by BM25 against the request; the answer quotes the best ones,
  each followed by its document's ``[id]``, and ``Completion.citations`` lists them.
- **Tools**: while no tool result has come back for the last request, a tool whose name
  (or, failing that, description) the request's words match is called, its arguments
  taken from ``name: value`` in the request, else the request's text for a text-like
  string parameter, else type defaults for the required ones. Once the results are in,
  the answer reports them.
- **JSON**: with ``json_schema``, an object that validates against it: a property whose
  name appears as ``name: value`` in the request or documents takes that value (made the
  right type), a text property the answer, others their type's default; ``json_mode``
  alone gives ``{"answer": ...}``.
- Otherwise the answer is the request itself, cut to its key sentences when it is long.

The answer streams in pieces of a few words through ``on_delta``. Tokens are counted as
words (whitespace-separated): the input is the messages' words, the output the answer's.
"""

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runplane.providers.base import Completion, ModelProvider, OnDelta, ToolCall, empty_usage

WORD = re.compile(r"[a-z0-9]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STOP_WORDS = frozenset(
    """a about after all also am an and any are as at be been before but by can could did do
    does for from had has have how i if in into is it its me my no not of on or our please
    so some than that the their them then there these they this those to up us was we were
    what when where which who why will with would you your""".split()
)
# BM25's usual constants: term-frequency saturation and length normalisation.
K1, B = 1.5, 0.75
TOP_PASSAGES = 3
PASSAGE_SENTENCES = 3
QUOTE_CHARS = 400
SUMMARY_SENTENCES = 5
LONG_REQUEST_WORDS = 80
STREAM_WORDS = 6
TEXT_PROPERTIES = frozenset(
    "answer summary text content body description report message details result note".split()
)
TITLE_PROPERTIES = frozenset("title name headline subject heading".split())
SCORE_PROPERTIES = frozenset("confidence score relevance certainty".split())
TITLE_CHARS = 120
MAX_BULLETS = 10
QUERY_PROPERTIES = frozenset("query q search keywords term terms question topic".split())


def count_tokens(text: str) -> int:
    """The offline provider's token count of a text: its words."""
    return len(text.split())


def terms(text: str) -> list[str]:
    """The words of a text that count for retrieval: lower case, stop words left out."""
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


@dataclass(frozen=True)
class Passage:
    """A piece of a document that may be quoted."""

    doc_id: str
    title: str
    text: str


def passages(documents: Iterable[dict[str, Any]]) -> list[Passage]:
    """The documents cut into passages: paragraphs, long ones into a few sentences each."""
    found: list[Passage] = []
    for doc in documents:
        doc_id, title = str(doc.get("id", "")), str(doc.get("title") or doc.get("id") or "")
        for paragraph in re.split(r"\n\s*\n", str(doc.get("text") or "")):
            if re.fullmatch(r"\s*#{1,6}\s+[^\n]*", paragraph):
                continue  # a heading alone is no passage to quote
            sentences = [s for s in SENTENCE_END.split(" ".join(paragraph.split())) if s]
            for start in range(0, len(sentences), PASSAGE_SENTENCES):
                text = " ".join(sentences[start : start + PASSAGE_SENTENCES])
                if text:
                    found.append(Passage(doc_id, title, text))
    return found


def bm25(query: str, candidates: list[Passage]) -> list[tuple[float, Passage]]:
    """The passages that share a word with the query, best first (ties: document order)."""
    asked = set(terms(query))
    bags = [Counter(terms(p.text)) for p in candidates]
    if not asked or not bags:
        return []
    average = sum(sum(b.values()) for b in bags) / len(bags) or 1.0
    frequency = Counter(t for bag in bags for t in set(bag))
    scored: list[tuple[float, int, Passage]] = []
    for index, (bag, passage) in enumerate(zip(bags, candidates, strict=True)):
        length, score = sum(bag.values()), 0.0
        for term in asked & set(bag):
            idf = math.log(1 + (len(bags) - frequency[term] + 0.5) / (frequency[term] + 0.5))
            tf = bag[term]
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        if score > 0:
            scored.append((score, index, passage))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(score, passage) for score, _, passage in scored]


class OfflineProvider(ModelProvider):
    """Answers without a model: retrieval, rule-based tool choice, schema-shaped JSON."""

    name = "offline"
    default_model = "offline"

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        json_mode: bool = False,
        json_schema: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        reasoning_effort: str | None = None,
        documents: list[dict[str, Any]] | None = None,
        on_delta: OnDelta | None = None,
    ) -> Completion:
        """Answer deterministically from the messages, documents, tools and schema."""
        request = last_request(messages)
        results = tool_results(messages)
        calls: tuple[ToolCall, ...] = ()
        citations: list[dict[str, Any]] = []
        if tools and not results:
            chosen = choose_tool(request, tools)
            calls = () if chosen is None else (chosen,)
        if calls:
            text = ""
        else:
            text, citations = answer(request, results, documents or [])
            if json_schema is not None:
                source = "\n".join(
                    [request, *results, *(str(d.get("text", "")) for d in documents or [])]
                )
                text = json.dumps(fill_schema(json_schema, source, text))
            elif json_mode:
                text = json.dumps({"answer": text, "citations": [c["id"] for c in citations]})
        if on_delta is not None:
            for piece in pieces(text):
                await on_delta(piece)
        words_in = sum(count_tokens(_content(m)) for m in messages)
        usage = {**empty_usage(), "input_tokens": words_in, "output_tokens": count_tokens(text)}
        return Completion(
            text=text,
            model=self.default_model,
            usage=usage,
            tool_calls=calls,
            provider=self.name,
            citations=tuple(citations),
        )


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else json.dumps(content) if content else ""


def last_request(messages: list[dict[str, Any]]) -> str:
    """What is asked: the last user message, else the system messages."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content(message)
    return "\n".join(_content(m) for m in messages if m.get("role") == "system")


def tool_results(messages: list[dict[str, Any]]) -> list[str]:
    """The tool results that came back after the last user message."""
    found: list[str] = []
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "tool":
            found.append(_content(message))
    return found[::-1]


def answer(
    request: str, results: list[str], documents: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """The answer's text and citations."""
    parts: list[str] = []
    citations: list[dict[str, Any]] = []
    if results:
        parts.append("Tool results:\n" + "\n".join(f"- {r}" for r in results))
    ranked = bm25(request, passages(documents))[:TOP_PASSAGES]
    if ranked:
        lines = []
        for _, passage in ranked:
            quote = passage.text[:QUOTE_CHARS]
            lines.append(f"- {quote} [{passage.doc_id}]")
            citations.append({"id": passage.doc_id, "title": passage.title, "quote": quote})
        parts.append("From the documents:\n" + "\n".join(lines))
    elif documents:
        parts.append("The documents say nothing about this request.")
    if not parts:
        parts.append(key_sentences(request))
    return "\n\n".join(parts), citations


def key_sentences(text: str) -> str:
    """A long text's first sentence and its most central others, in order; a short one whole."""
    text = " ".join(text.split())
    if count_tokens(text) <= LONG_REQUEST_WORDS:
        return text
    sentences = [s for s in SENTENCE_END.split(text) if s]
    weight = Counter(terms(text))

    def centrality(index: int) -> float:
        words = set(terms(sentences[index]))
        return -sum(weight[t] for t in words) / math.sqrt(1 + len(words))

    others = sorted(range(1, len(sentences)), key=centrality)
    keep = sorted([0, *others[: SUMMARY_SENTENCES - 1]])
    return " ".join(sentences[i] for i in keep)


def pieces(text: str) -> list[str]:
    """The text in pieces of a few words, as a model would stream it."""
    words = re.findall(r"\S+\s*", text)
    return ["".join(words[i : i + STREAM_WORDS]) for i in range(0, len(words), STREAM_WORDS)]


def _name_words(name: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def choose_tool(request: str, tools: list[dict[str, Any]]) -> ToolCall | None:
    """The tool the request names or matches best, with its arguments; None if none fits.

    A tool's name words count three times its description's; a tool must share at least
    one name word with the request, or two description words.
    """
    asked = {_stem(w) for w in terms(request)} | {_stem(w) for w in _name_words(request)}
    best: tuple[int, int, dict[str, Any]] | None = None
    for order, tool in enumerate(tools):
        name = {_stem(w) for w in _name_words(str(tool.get("name", "")))}
        described = {_stem(w) for w in terms(str(tool.get("description") or ""))}
        by_name, by_description = len(asked & name), len(asked & (described - name))
        if str(tool.get("name", "")).lower() in request.lower():
            by_name += 2
        if by_name == 0 and by_description < 2:
            continue
        score = 3 * by_name + by_description
        if best is None or score > best[0]:
            best = (score, order, tool)
    if best is None:
        return None
    tool = best[2]
    return ToolCall("call_offline_1", str(tool["name"]), arguments_for(tool, request))


def arguments_for(tool: dict[str, Any], request: str) -> dict[str, Any]:
    """A tool's arguments from the request: ``name: value``, the text, or defaults."""
    schema = tool.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    arguments: dict[str, Any] = {}
    for prop, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        stated = stated_value(prop, request)
        if stated is not None:
            arguments[prop] = coerce(stated, spec)
        elif _kind(spec) == "string" and prop.lower() in QUERY_PROPERTIES | TEXT_PROPERTIES:
            arguments[prop] = " ".join(request.split())
        elif prop in required:
            arguments[prop] = default_for(spec)
    return arguments


def stated_value(name: str, source: str) -> str | None:
    """The value written as ``name: value`` (or ``name = value``) in a text, if any."""
    spelled = r"[\s_-]*".join(re.escape(p) for p in re.split(r"[\s_-]+", name) if p)
    found = re.search(rf"(?im)\b{spelled}\s*[:=]\s*(.+?)\s*$", source)
    return found.group(1).strip().strip("\"'") if found else None


def _kind(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind) if kind else ("object" if "properties" in spec else "string")


def coerce(value: str, spec: dict[str, Any]) -> Any:
    """A stated value as the type the schema wants (its default when it cannot be)."""
    kind = _kind(spec)
    try:
        if kind == "integer":
            return int(float(re.sub(r"[^0-9.+-]", "", value)))
        if kind == "number":
            return float(re.sub(r"[^0-9.+-]", "", value))
    except ValueError:
        return default_for(spec)
    if kind == "boolean":
        return value.lower() in ("true", "yes", "1", "y")
    if kind == "array":
        items = _items(spec)
        return [coerce(v.strip(), items) for v in value.split(",") if v.strip()]
    if kind == "object":
        return default_for(spec)
    if "enum" in spec:
        return next((e for e in spec["enum"] if str(e).lower() == value.lower()), spec["enum"][0])
    return value


def _items(spec: dict[str, Any]) -> dict[str, Any]:
    items = spec.get("items")
    return items if isinstance(items, dict) else {}


def default_for(spec: dict[str, Any]) -> Any:
    """A value of the schema's type: its default, const or first enum value, else empty."""
    for key in ("default", "const"):
        if key in spec:
            return spec[key]
    if spec.get("enum"):
        return spec["enum"][0]
    kind = _kind(spec)
    if kind == "object":
        properties = spec.get("properties") or {}
        return {
            name: default_for(sub if isinstance(sub, dict) else {})
            for name, sub in properties.items()
            if name in set(spec.get("required") or [])
        }
    if kind == "array":
        items = _items(spec)
        return [default_for(items) for _ in range(int(spec.get("minItems") or 0))]
    if kind in ("integer", "number"):
        return spec.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * int(spec.get("minLength") or 0)


def fill_schema(schema: dict[str, Any], source: str, text: str) -> Any:
    """A value matching ``schema``: properties stated in ``source``, text ones the answer."""
    if _kind(schema) != "object":
        return coerce(text, schema) if _kind(schema) != "string" else text
    result: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        stated = stated_value(name, source)
        if stated is not None and _kind(spec) != "object":
            result[name] = coerce(stated, spec)
        elif _kind(spec) == "object":
            result[name] = fill_schema(spec, source, text)
        elif _kind(spec) == "string" and "enum" not in spec and name.lower() in TEXT_PROPERTIES:
            limit = spec.get("maxLength")
            result[name] = text[: int(limit)] if isinstance(limit, int) else text
        elif _kind(spec) == "string" and "enum" not in spec and name.lower() in TITLE_PROPERTIES:
            result[name] = title_of(source, text)[: int(spec.get("maxLength") or TITLE_CHARS)]
        elif _kind(spec) == "array" and _kind(_items(spec)) == "string":
            most = spec.get("maxItems")
            result[name] = bullets(text)[: int(most) if isinstance(most, int) else MAX_BULLETS]
        elif _kind(spec) in ("number", "integer") and name.lower() in SCORE_PROPERTIES:
            result[name] = overlap_score(source, text, spec)
        else:
            result[name] = default_for(spec)
    return result


def title_of(source: str, text: str) -> str:
    """A title: the first markdown heading of the source or answer, else the answer's first line."""
    for body in (source, text):
        heading = re.search(r"(?m)^#{1,6}\s+(.+?)\s*$", body)
        if heading:
            return heading.group(1)
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.strip().rstrip(":")


def bullets(text: str) -> list[str]:
    """The answer's list items (``- item``), without their citation marks."""
    found = re.findall(r"(?m)^\s*[-*]\s+(.+?)\s*$", text)
    return [re.sub(r"\s*\[[A-Za-z0-9_]+\]\s*", " ", item).strip() for item in found]


def overlap_score(source: str, text: str, spec: dict[str, Any]) -> float | int:
    """How much of what was asked the answer covers: the share of its terms found, in range."""
    asked, said = set(terms(source)), set(terms(text))
    share = len(asked & said) / len(asked) if asked else 0.0
    low, high = float(spec.get("minimum", 0)), float(spec.get("maximum", 1))
    value = low + (high - low) * share
    return round(value) if _kind(spec) == "integer" else round(value, 2)
