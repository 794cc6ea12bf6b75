"""``client.threads.search`` and ``count``: filters, sort and pages, all answered by the database."""

import random
import uuid
from typing import Any

from langgraph_sdk.client import LangGraphClient
from lgsdk import runplane_api

TENANT = "threads"
PAGE = 4


def ids(threads: list[dict[str, Any]]) -> list[str]:
    return [t["thread_id"] for t in threads]


async def thirty_threads_touched_in_shuffled_order(lg: LangGraphClient) -> tuple[str, list[str]]:
    """30 threads of a new batch (``n``: 0..29, ``even``); returns the batch and the update order.

    Each thread is updated once, one after the other in a shuffled order, so that sorting
    by ``updated_at`` differs from sorting by ``created_at``.
    """
    batch = uuid.uuid4().hex[:8]
    made = [
        (await lg.threads.create(metadata={"batch": batch, "n": n, "even": n % 2 == 0}))[
            "thread_id"
        ]
        for n in range(30)
    ]
    touched = random.Random(7).sample(made, len(made))
    for position, thread_id in enumerate(touched):
        await lg.threads.update(thread_id, metadata={"position": position})
    return batch, touched


async def matching(lg: LangGraphClient, **metadata: Any) -> set[str]:
    """The ids of every thread whose metadata has these values."""
    return set(ids(await lg.threads.search(metadata=metadata, limit=1000)))


async def all_pages(lg: LangGraphClient, **search: Any) -> list[list[str]]:
    """Every page of a search, ``PAGE`` threads at a time, until a short page."""
    pages: list[list[str]] = []
    while True:
        page = ids(await lg.threads.search(limit=PAGE, offset=PAGE * len(pages), **search))
        pages.append(page)
        if len(page) < PAGE:
            return pages


async def test_pages_of_a_filtered_search_by_updated_at_list_each_match_once_in_order(
    lg: LangGraphClient,
) -> None:
    batch, touched = await thirty_threads_touched_in_shuffled_order(lg)
    even_ones = await matching(lg, batch=batch, even=True)
    even = [t for t in touched if t in even_ones]
    assert len(even) == 15

    oldest_first = await all_pages(
        lg, metadata={"batch": batch, "even": True}, sort_by="updated_at", sort_order="asc"
    )
    assert [len(p) for p in oldest_first] == [4, 4, 4, 3]
    assert sum(oldest_first, []) == even

    newest_first = await all_pages(
        lg, metadata={"batch": batch, "even": True}, sort_by="updated_at", sort_order="desc"
    )
    assert sum(newest_first, []) == even[::-1]

    assert await lg.threads.count(metadata={"batch": batch, "even": True}) == 15
    assert await lg.threads.count(metadata={"batch": batch}) == 30


async def test_the_next_page_header_is_set_only_while_more_matches_follow(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    batch, touched = await thirty_threads_touched_in_shuffled_order(lg)
    body = {"metadata": {"batch": batch}, "sort_by": "updated_at", "sort_order": "asc"}
    async with runplane_api(live_server.url, key) as http:
        headers = []
        for offset in (0, 20, 25, 30):
            answer = await http.post("/threads/search", json={**body, "limit": 5, "offset": offset})
            assert answer.status_code == 200
            assert ids(answer.json()) == touched[offset : offset + 5]
            headers.append(answer.headers.get("X-Pagination-Next"))
    assert headers == ["5", "25", None, None]


async def test_sort_by_thread_id_and_offsets_past_the_end(lg: LangGraphClient) -> None:
    batch, touched = await thirty_threads_touched_in_shuffled_order(lg)
    by_id = await all_pages(lg, metadata={"batch": batch}, sort_by="thread_id", sort_order="asc")
    assert sum(by_id, []) == sorted(touched)
    assert [len(p) for p in by_id] == [4] * 7 + [2]
    descending = await lg.threads.search(
        metadata={"batch": batch}, sort_by="thread_id", sort_order="desc", limit=30
    )
    assert ids(descending) == sorted(touched, reverse=True)
    assert await lg.threads.search(metadata={"batch": batch}, offset=30) == []


async def test_ties_in_the_sort_key_keep_newest_first_order(lg: LangGraphClient) -> None:
    batch = uuid.uuid4().hex[:8]
    made = [(await lg.threads.create(metadata={"batch": batch}))["thread_id"] for _ in range(6)]
    for order in ("asc", "desc"):
        # Every thread is idle: sorting by status leaves them newest first.
        by_status = await lg.threads.search(
            metadata={"batch": batch}, sort_by="status", sort_order=order
        )
        assert ids(by_status) == made[::-1]
    unknown_key = await lg.threads.search(metadata={"batch": batch}, sort_by="colour")
    assert ids(unknown_key) == made[::-1]
    default = await all_pages(lg, metadata={"batch": batch})
    assert sum(default, []) == made[::-1]


async def test_ids_status_and_metadata_filters_combine_with_pages(
    lg: LangGraphClient, live_server: Any, key: str
) -> None:
    batch, touched = await thirty_threads_touched_in_shuffled_order(lg)
    some = touched[::3]
    page = await lg.threads.search(
        ids=[*some, str(uuid.uuid4())],
        metadata={"batch": batch, "even": False},
        status="idle",
        sort_by="updated_at",
        sort_order="asc",
        limit=3,
        offset=1,
    )
    odd_ones = await matching(lg, batch=batch, even=False)
    assert ids(page) == [t for t in some if t in odd_ones][1:4]

    async with runplane_api(live_server.url, key) as http:

        async def count(**body: Any) -> Any:
            answer = await http.post("/threads/count", json={"metadata": {"batch": batch}, **body})
            assert answer.status_code == 200
            return answer.json()

        assert await count(ids=some, status="idle") == len(some)
        assert await count(ids=some, status="busy") == 0
        assert await count(ids=[]) == 0
        assert await count(ids=some, metadata={"batch": batch, "even": False}) == len(
            [t for t in some if t in odd_ones]
        )


async def test_metadata_filters_compare_json_values_exactly(lg: LangGraphClient) -> None:
    batch = uuid.uuid4().hex[:8]
    shapes: dict[str, dict[str, Any]] = {
        "int": {"v": 1},
        "float": {"v": 1.0},
        "text": {"v": "1"},
        "true": {"v": True},
        "null": {"v": None},
        "missing": {},
        "list": {"v": [1, 2]},
        "object": {"v": {"a": 1, "b": [None, "z"]}},
        "object, other key order": {"v": {"b": [None, "z"], "a": 1}},
        "odd key": {'k"e.y': "q"},
    }
    made = {
        name: (await lg.threads.create(metadata={"batch": batch, **shape}))["thread_id"]
        for name, shape in shapes.items()
    }

    async def found(**wanted: Any) -> set[str]:
        threads = await lg.threads.search(metadata={"batch": batch, **wanted}, limit=100)
        name_of = {thread_id: name for name, thread_id in made.items()}
        return {name_of[t] for t in ids(threads)}

    assert await found(v=1) == {"int", "float"}
    assert await found(v=1.0) == {"int", "float"}
    assert await found(v="1") == {"text"}
    assert await found(v=True) == {"true"}
    assert await found(v=None) == {"null", "missing", "odd key"}  # a missing key reads as null
    assert await found(v=[1, 2]) == {"list"}
    assert await found(v=[2, 1]) == set()
    assert await found(v=[1]) == set()
    assert await found(v={"b": [None, "z"], "a": 1}) == {"object", "object, other key order"}
    assert await found(v={"a": 1}) == set()  # equal, not contained
    assert await found(**{'k"e.y': "q"}) == {"odd key"}
    assert await lg.threads.count(metadata={"batch": batch, "v": None}) == 3
