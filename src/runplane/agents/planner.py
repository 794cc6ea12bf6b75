"""The intent planner: a request in plain words, and the tools a run may call, to a plan.

A plan is JSON: ``{"intent", "planner", "steps": [{"number", "tool", "arguments",
"why"}]}``. An argument ``{"$ref": "steps.N.output"}`` stands for the output of step N,
filled in by ``resolve_refs`` when the step runs. ``plan_offline`` plans without a
model, by matching words; ``runplane.agents.plans`` checks a model's plans and runs
plans' references.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from runplane.agents.plans import MAX_STEPS, schema_type, step_refs

MAX_PHRASE_WORDS = 8

STOP_WORDS = frozenset(
    """a about after all also am an and any are as at be before by can could do for from
    get give i in into is it its let me my need of on or our please so some that the their
    them then there these this those to up us want we what which will with would you your
    kindly like just""".split()
)
DETERMINERS = frozenset("the a an my our your their his her all this that these those".split())
POLITE = frozenset("please kindly can could would you i we want need like to just".split())

READ_VERBS = frozenset("read list search find get fetch show lookup look check view".split())
# The words that ask for a write, by the verb that starts a write tool's name.
WRITE_VERBS: dict[str, frozenset[str]] = {
    "send": frozenset("send email mail tell message forward share notify inform".split()),
    "add": frozenset("add write jot save record put remember".split()),
    "create": frozenset("create schedule book add make set arrange organise organize".split()),
    "post": frozenset("post publish announce share".split()),
    "update": frozenset("update change edit move rename reschedule".split()),
    "delete": frozenset("delete remove cancel clear drop".split()),
}
# Words that name the same thing as a tool's noun.
SYNONYMS = {
    "meeting": "event",
    "review": "event",
    "call": "event",
    # Scheduling is what calendars are for, whatever the thing scheduled is called.
    "schedule": "calendar",
    "reschedule": "calendar",
    "appointment": "event",
    "memo": "note",
    "mail": "email",
    "message": "email",
    "tell": "email",
    "inform": "email",
    "notify": "email",
}
DAY_PARAMS = frozenset("day date weekday when on".split())
TIME_PARAMS = frozenset("time at hour start start_time".split())
RECIPIENT_PARAMS = frozenset("to recipient recipients email address".split())
TITLE_PARAMS = frozenset("subject title name summary topic".split())
TEXT_PARAMS = frozenset("body content text message note description details".split())
QUERY_PARAMS = frozenset("query q search keywords term terms".split())
RECIPIENT_TRIGGERS = frozenset("to tell email mail message inform notify send forward".split())

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_ABBREVIATIONS = {
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}
RELATIVE_DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
EMAIL_ADDRESS = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
TIME_PATTERNS = (
    re.compile(r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", re.IGNORECASE),
    re.compile(r"\b(\d{1,2})()\s*(am|pm)\b", re.IGNORECASE),
    re.compile(r"\bat\s+(\d{1,2})()()\b(?!-)", re.IGNORECASE),
)


# -- words -----------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Lowercase, singular content words of ``text``, in order, stop words dropped."""
    return [singular(w) for w in _words(text.lower()) if w not in STOP_WORDS]


def singular(word: str) -> str:
    """A crude singular: ``notes`` → ``note``, ``entries`` → ``entry``, ``class`` stays."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    # Possessives go ("monday's" → "monday"); so does punctuation at either end.
    stripped = (re.sub(r"'s$", "", t.strip(".,;!?'-")) for t in re.findall(r"[\w'@.+-]+", text))
    return [w for w in stripped if w]


def _clean(word: str) -> str:
    return word.strip(".,;!?'\"-").lower()


def _concepts(tokens: list[str]) -> set[str]:
    return set(tokens) | {SYNONYMS[t] for t in tokens if t in SYNONYMS}


def _name_parts(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [singular(p) for p in re.split(r"[_\-.\s]+", spaced.lower()) if p]


# -- matching tools --------------------------------------------------------------------


def _verb(tool: dict[str, Any]) -> str:
    parts = _name_parts(tool["name"])
    return parts[0] if parts and (parts[0] in READ_VERBS or parts[0] in WRITE_VERBS) else ""


def is_read_tool(tool: dict[str, Any]) -> bool:
    """Tell whether a tool only reads: its name starts with read, list, search, find, get…."""
    return _verb(tool) in READ_VERBS


def _properties(tool: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict((tool.get("parameters") or {}).get("properties") or {})


def _required(tool: dict[str, Any]) -> list[str]:
    return list((tool.get("parameters") or {}).get("required") or [])


def _match(tool: dict[str, Any], words: set[str], raw: set[str], has_day: bool) -> dict[str, Any]:
    """Score one tool against the intent's words; ``about``: its name or integration is named."""
    verb = _verb(tool)
    nouns = [p for p in _name_parts(tool["name"]) if p != verb and p not in STOP_WORDS]
    matched = [n for n in nouns if n in words]
    integration = singular((tool.get("integration") or "").lower())
    on_integration = bool(integration) and integration in words
    verbs = WRITE_VERBS.get(verb, frozenset({verb})) if verb else frozenset()
    asks_for_verb = bool(verbs & raw)
    described = {singular(w) for w in tokenize(tool.get("description") or "")} & words
    params = {singular(p) for p in _properties(tool)}
    param_hits = len(params & words) + (1 if has_day and params & DAY_PARAMS else 0)
    score = 3 * len(matched) + 2 * on_integration + 2 * asks_for_verb + len(described) + param_hits
    reasons = sorted(set(matched) | ({integration} if on_integration else set()) | (verbs & raw))
    return {
        "tool": tool,
        "score": score,
        "about": bool(matched) or on_integration,
        "asks_for_verb": asks_for_verb,
        "read": verb in READ_VERBS,
        "reasons": reasons,
    }


def _choose(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """One tool of an integration: the write the intent asks for, else the best read."""
    wanted_write = any(c["asks_for_verb"] and not c["read"] for c in candidates)

    def rank(c: dict[str, Any]) -> tuple[int, int, str]:
        preferred = (not c["read"] and c["asks_for_verb"]) if wanted_write else c["read"]
        return (0 if preferred else 1, -c["score"], c["tool"]["name"])

    return min(candidates, key=rank)


def _position(match: dict[str, Any], tokens: list[str]) -> int:
    concepts = [SYNONYMS.get(t, t) for t in tokens]
    spots = [i for i, t in enumerate(concepts) if t in match["reasons"]]
    return min(spots) if spots else len(tokens)


# -- the offline planner ---------------------------------------------------------------


def plan_offline(
    intent: str, context: dict[str, Any], tools: list[dict[str, Any]]
) -> dict[str, Any]:
    """Plan deterministically by matching the intent's words to the tools' names and schemas.

    At most one tool per integration; reads run before writes; arguments come from the
    run's ``context`` (a key named like the parameter), then from the intent's words.
    """
    intent = " ".join(intent.split())
    head, payload = _split_payload(intent)
    tokens = tokenize(head)
    words = _concepts(tokens)
    raw = set(tokens)
    day = _find_day(head, context) or _find_day(intent, context)
    recipient, span = _find_recipient(head) or (None, [])
    facts = _Facts(intent, head, payload, day, _find_time(intent), recipient, tuple(span))

    groups: dict[str, list[dict[str, Any]]] = {}
    for tool in tools:
        match = _match(tool, words, raw, day is not None)
        # A read needs only its subject named; a write must also be asked for by verb,
        # and a tool that addresses someone is about any intent that does ("send Ana…").
        addresses = recipient is not None and bool(set(_properties(tool)) & RECIPIENT_PARAMS)
        about = match["about"] or (addresses and match["asks_for_verb"])
        if about and (match["read"] or match["asks_for_verb"]):
            groups.setdefault(tool.get("integration") or f"tool:{tool['name']}", []).append(match)
    chosen = [_choose(group) for group in groups.values()]
    chosen.sort(key=lambda m: (0 if m["read"] else 1, _position(m, tokens), m["tool"]["name"]))

    steps: list[dict[str, Any]] = []
    for number, match in enumerate(chosen[:MAX_STEPS], start=1):
        steps.append(_step(number, match, facts, context, steps))
    return {"intent": intent, "planner": "offline", "steps": steps}


@dataclass(frozen=True)
class _Shape:
    """What kind of tool a step calls, as far as filling its arguments goes."""

    read: bool
    addresses: bool
    has_day: bool


@dataclass(frozen=True)
class _Facts:
    """What the intent says, extracted once."""

    intent: str
    head: str
    payload: str | None
    day: str | None
    time: str | None
    recipient: str | None
    recipient_span: tuple[int, ...]


def _step(
    number: int,
    match: dict[str, Any],
    facts: _Facts,
    context: dict[str, Any],
    earlier: list[dict[str, Any]],
) -> dict[str, Any]:
    tool = match["tool"]
    required = set(_required(tool))
    arguments: dict[str, Any] = {}
    missing: list[str] = []
    properties = _properties(tool)
    shape = _Shape(
        read=match["read"],
        addresses=any(name.lower() in RECIPIENT_PARAMS for name in properties),
        has_day=any(name.lower() in DAY_PARAMS for name in properties),
    )
    for name, schema in properties.items():
        value = _argument(name, schema, facts, context, earlier, shape)
        # A string the intent does not spell out gets the whole intent, except a
        # recipient: better to ask than to write to someone made up.
        if value is None and name in required and name.lower() not in RECIPIENT_PARAMS:
            value = facts.intent if schema_type(schema) == "string" else None
        if value is None:
            if name in required:
                missing.append(name)
            continue
        arguments[name] = value
    description = (tool.get("description") or tool["name"]).strip().rstrip(".")
    why = f"{description} [matched: {', '.join(match['reasons'])}]"
    uses = step_refs(arguments)
    if uses:
        why += f"; passes on the output of step {', '.join(str(n) for n in uses)}"
    step: dict[str, Any] = {
        "number": number,
        "tool": tool["name"],
        "arguments": arguments,
        "why": why,
    }
    if missing:
        step["missing"] = missing
    return step


def _argument(
    name: str,
    schema: dict[str, Any],
    facts: _Facts,
    context: dict[str, Any],
    earlier: list[dict[str, Any]],
    shape: _Shape,
) -> Any:
    key = name.lower()
    if name in context:
        return context[name]
    enum = _enum(schema)
    if enum:
        said = {_clean(w) for w in _words(facts.intent)}
        return next((v for v in enum if str(v).lower() in said), None)
    if key in DAY_PARAMS:
        return facts.day
    if key in TIME_PARAMS:
        return facts.time
    if key in RECIPIENT_PARAMS:
        if not facts.recipient:
            return None
        return [facts.recipient] if schema_type(schema) == "array" else facts.recipient
    if key in QUERY_PARAMS or (shape.read and key in TEXT_PARAMS):
        return _phrase(facts, shape) or facts.intent
    if key in TEXT_PARAMS:
        source = _source_step(earlier)
        if source is not None:
            return {"$ref": f"steps.{source}.output"}
        return facts.payload or _phrase(facts, shape, content=True) or None
    if key in TITLE_PARAMS:
        return _phrase(facts, shape) or _first_words(facts.payload)
    return None


def _source_step(earlier: list[dict[str, Any]]) -> int | None:
    """The step whose output a later write passes on: the last read, else the last step."""
    reads = [s for s in earlier if is_read_tool({"name": s["tool"]})]
    chosen = reads[-1] if reads else (earlier[-1] if earlier else None)
    return int(chosen["number"]) if chosen else None


def _split_payload(intent: str) -> tuple[str, str | None]:
    """Split off what the intent quotes or puts after a colon: content, not instructions."""
    quoted = re.search(r"[\"“]([^\"”]+)[\"”]", intent)
    if quoted:
        head = (intent[: quoted.start()] + intent[quoted.end() :]).strip()
        return head, quoted.group(1).strip() or None
    colon = re.search(r"(?<!\d):(?!\d)", intent)  # not the colon of "10:30"
    if colon:
        return intent[: colon.start()].strip(), intent[colon.end() :].strip() or None
    return intent, None


def _find_day(text: str, context: dict[str, Any]) -> str | None:
    iso = ISO_DATE.search(text)
    if iso:
        return iso.group(0)
    for word in (_clean(w) for w in _words(text)):
        name = DAY_ABBREVIATIONS.get(word, word)
        if name in WEEKDAYS:
            return name.capitalize()
        if word in RELATIVE_DAYS:
            return _relative_day(word, context)
    return None


def _relative_day(word: str, context: dict[str, Any]) -> str:
    # "today" only means a date if the caller says what today is; else it stays a word.
    try:
        today = dt.date.fromisoformat(str(context["today"]))
    except (KeyError, ValueError):
        return word.capitalize()
    return (today + dt.timedelta(days=RELATIVE_DAYS[word])).isoformat()


def _find_time(text: str) -> str | None:
    if re.search(r"\bnoon\b", text, re.IGNORECASE):
        return "12:00"
    for pattern in TIME_PATTERNS:
        found = pattern.search(text)
        if found:
            hour, minute = int(found.group(1)), int(found.group(2) or 0)
            meridiem = (found.group(3) or "").lower()
            if meridiem == "pm" and hour < 12:
                hour += 12
            if meridiem == "am" and hour == 12:
                hour = 0
            if hour < 24 and minute < 60:
                return f"{hour:02d}:{minute:02d}"
    return None


def _find_recipient(head: str) -> tuple[str, list[int]] | None:
    """Who the intent addresses, and the positions of the words that say so."""
    address = EMAIL_ADDRESS.search(head)
    words = _words(head)
    if address:
        spots = [i for i, w in enumerate(words) if address.group(0) in w]
        if spots and spots[0] > 0 and _clean(words[spots[0] - 1]) in RECIPIENT_TRIGGERS:
            spots.insert(0, spots[0] - 1)
        return address.group(0), spots
    lowered = [_clean(w) for w in words]
    for i, word in enumerate(lowered):
        if word not in RECIPIENT_TRIGGERS:
            continue
        j = i + 1
        while j < len(words) and lowered[j] in DETERMINERS:
            j += 1
        names: list[int] = []
        while j < len(words) and len(names) < 3 and _could_be_name(lowered[j]):
            names.append(j)
            j += 1
        if names:
            recipient = " ".join(words[k].strip(".,;!?") for k in names)
            return recipient, list(range(i, names[-1] + 1))
    return None


def _could_be_name(word: str) -> bool:
    concept = SYNONYMS.get(singular(word), singular(word))
    return (
        bool(word)
        and word not in STOP_WORDS
        and word not in RECIPIENT_TRIGGERS
        and not word[0].isdigit()
        and _find_day(word, {}) is None
        and concept not in TOOL_NOUNS
    )


# Words that name what tools act on rather than people (a crude guard for recipients).
TOOL_NOUNS = frozenset("note event email calendar file document report task item".split())
CONNECTORS = frozenset("to that about saying".split())
LEADING_FILLER = POLITE | DETERMINERS | CONNECTORS


def _phrase(facts: _Facts, shape: _Shape, *, content: bool = False) -> str:
    """A short phrase from the intent: the request without its verb and time.

    What the tool takes as other arguments stays out too: the recipient, the day;
    ``content`` also drops a leading noun that only says what to write ("a note to …").
    """
    words = _words(facts.head)
    lowered = [_clean(w) for w in words]
    keep = [not (shape.addresses and i in facts.recipient_span) for i in range(len(words))]
    for i, word in enumerate(lowered[:-1]):
        after = lowered[i + 1]
        if word == "at" and (after[:1].isdigit() or after == "noon"):
            keep[i] = keep[i + 1] = False
        if shape.has_day and word in ("on", "for") and _find_day(after, {}) is not None:
            keep[i] = keep[i + 1] = False
    kept = [(w, lw) for w, lw, k in zip(words, lowered, keep, strict=True) if k]
    while kept and (kept[0][1] in LEADING_FILLER or _is_verb(kept[0][1])):
        kept.pop(0)
    if content:
        while kept and (singular(kept[0][1]) in TOOL_NOUNS or kept[0][1] in CONNECTORS):
            kept.pop(0)
    return _first_words(" ".join(w for w, _ in kept)) or ""


def _is_verb(word: str) -> bool:
    return word in READ_VERBS or any(word in group for group in WRITE_VERBS.values())


def _first_words(text: str | None) -> str | None:
    if not text:
        return None
    phrase = " ".join(text.split()[:MAX_PHRASE_WORDS])
    return phrase[:1].upper() + phrase[1:]


def _enum(schema: dict[str, Any]) -> list[Any]:
    if "enum" in schema:
        return list(schema["enum"])
    return [v for option in schema.get("anyOf") or [] for v in option.get("enum") or []]
