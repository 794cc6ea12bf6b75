"""The offline provider: deterministic retrieval, tool choice and schema-shaped JSON."""

import json
from typing import Any

import jsonschema
import pytest

from runplane.providers.offline import OfflineProvider, bm25, count_tokens, passages

pytestmark = pytest.mark.database_independent  # runs in the SQLite pass only

DOCUMENTS = [
    {
        "id": "file_pricing",
        "title": "pricing.md",
        "text": "Our plans. The starter plan costs 5 EUR a month.\n\n"
        "The team plan costs 20 EUR a month per seat. Discounts apply to yearly billing.",
    },
    {
        "id": "file_team",
        "title": "team.md",
        "text": "Ana leads engineering. Bo runs support from Lisbon.",
    },
]
TOOLS = [
    {
        "name": "search_web",
        "description": "Search the web for a query.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
    },
    {
        "name": "send_email",
        "description": "Send an email to someone.",
        "parameters": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "body"],
        },
    },
]


def ask(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are offline."}, {"role": "user", "content": text}]


async def test_with_documents_the_answer_quotes_the_best_passages_and_cites_them():
    pieces: list[str] = []

    async def on_delta(text: str) -> None:
        pieces.append(text)

    completion = await OfflineProvider().complete(
        ask("How much does the team plan cost per seat?"), documents=DOCUMENTS, on_delta=on_delta
    )

    first = completion.citations[0]
    assert first["id"] == "file_pricing" and "20 EUR a month per seat" in first["quote"]
    assert "[file_pricing]" in completion.text and "file_team" not in completion.text
    assert len(pieces) > 1 and "".join(pieces) == completion.text
    assert (completion.provider, completion.model) == ("offline", "offline")


async def test_a_question_the_documents_do_not_answer_says_so_without_citations():
    completion = await OfflineProvider().complete(ask("weather forecast?"), documents=DOCUMENTS)

    assert completion.citations == ()
    assert "say nothing" in completion.text


def test_bm25_ranks_the_passage_with_the_rarer_matching_words_first():
    ranked = bm25("support Lisbon", passages(DOCUMENTS))

    assert ranked[0][1].doc_id == "file_team"
    assert all(score > 0 for score, _ in ranked)


async def test_a_json_schema_answer_validates_and_takes_stated_values():
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "seats": {"type": "integer"},
            "urgent": {"type": "boolean"},
            "tier": {"type": "string", "enum": ["basic", "team"]},
            "summary": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "owner": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
        "required": ["title", "seats", "urgent", "tier", "summary", "tags", "owner"],
    }
    request = "Write the card.\ntitle: Team pricing\nseats: 12 seats\ntier: Team\nurgent: yes"

    completion = await OfflineProvider().complete(
        ask(request), json_schema=schema, documents=DOCUMENTS
    )

    card = json.loads(completion.text)
    jsonschema.validate(card, schema)
    assert card["title"] == "Team pricing" and card["seats"] == 12
    assert card["urgent"] is True and card["tier"] == "team"
    assert card["summary"]


async def test_json_mode_gives_an_object_with_the_answer():
    completion = await OfflineProvider().complete(ask("hello"), json_mode=True)

    assert json.loads(completion.text) == {"answer": "hello", "citations": []}


async def test_a_request_naming_a_tool_calls_it_with_arguments_from_the_request():
    completion = await OfflineProvider().complete(
        ask("Search the web for runplane pricing\nlimit: 3"), tools=TOOLS
    )

    [call] = completion.tool_calls
    assert call.name == "search_web"
    assert call.arguments["limit"] == 3 and "runplane pricing" in call.arguments["query"]
    assert completion.text == ""


async def test_once_the_tool_result_is_in_the_answer_reports_it():
    messages = [
        *ask("Search the web for runplane pricing"),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "name": "search_web", "arguments": {"query": "x"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "runplane is free"},
    ]

    completion = await OfflineProvider().complete(messages, tools=TOOLS)

    assert completion.tool_calls == ()
    assert "runplane is free" in completion.text


async def test_a_request_matching_no_tool_is_answered_in_words():
    completion = await OfflineProvider().complete(ask("Tell me a joke"), tools=TOOLS)

    assert completion.tool_calls == () and completion.text == "Tell me a joke"


async def test_tokens_are_counted_as_words_and_answers_are_deterministic():
    provider = OfflineProvider()
    messages = ask("How much does the team plan cost?")

    one = await provider.complete(messages, documents=DOCUMENTS)
    two = await provider.complete(messages, documents=DOCUMENTS)

    assert one == two
    assert one.usage["input_tokens"] == count_tokens("You are offline.") + 7
    assert one.usage["output_tokens"] == count_tokens(one.text) > 0
    assert one.usage["cached_tokens"] == one.usage["reasoning_tokens"] == 0


async def test_a_long_request_is_cut_to_its_key_sentences():
    filler = " ".join(f"Sentence {n} talks about lunch." for n in range(30))
    request = f"Runplane runs agents. {filler} Runplane governs agents and runs."

    completion = await OfflineProvider().complete(ask(request))

    assert count_tokens(completion.text) < count_tokens(request)
    assert completion.text.startswith("Runplane runs agents.")
