"""Activity exports: the whole filtered log as JSON Lines or CSV, streamed in batches,
parsing back to exactly the rows a page-by-page read finds."""

import csv
import io
import json
from datetime import timedelta

import httpx
from activity_rows import admin_of, seed

from runplane.domain.models import utcnow
from runplane.services import activity
from runplane.services.runtime import Runtime
from runplane.store.audit import ActivityFilter

URL = "/v1/governance/activity"


async def all_pages(api: httpx.AsyncClient, **params: object) -> list[dict]:
    rows: list[dict] = []
    token = None
    while True:
        query = {**params, "limit": 500, **({"continuation_token": token} if token else {})}
        page = (await api.get(URL, params=query)).json()
        rows += page["items"]
        token = page["continuation_token"]
        if token is None:
            return rows


async def test_exports_parse_back_to_exactly_the_filtered_rows(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    who = await admin_of(api, rt)
    await seed(rt, who, 1234, utcnow() - timedelta(days=1))  # more than two export batches
    filters = {"action": "run.", "since": (utcnow() - timedelta(days=2)).isoformat()}
    expected = await all_pages(api, **filters)
    assert len(expected) == 822

    jsonl = await api.get(URL, params={**filters, "format": "jsonl"})
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert jsonl.headers["content-disposition"].startswith('attachment; filename="activity-')
    assert jsonl.headers["content-disposition"].endswith('.jsonl"')
    lines = jsonl.text.splitlines()
    assert [json.loads(line) for line in lines] == expected

    exported = await api.get(URL, params={**filters, "format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].endswith('.csv"')
    table = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    assert list(table[0]) == list(activity.CSV_COLUMNS)
    assert [r["id"] for r in table] == [r["id"] for r in expected]
    for got, want in zip(table, expected, strict=True):
        assert json.loads(got["data"]) == want["data"]
        assert got["at"] == want["at"] and got["action"] == want["action"]
        assert got["actor_user_id"] == (want["actor_user_id"] or "")


async def test_an_export_with_no_match_is_a_header_or_nothing(api: httpx.AsyncClient) -> None:
    params = {"action": "nothing.like.this"}
    csv_text = (await api.get(URL, params={**params, "format": "csv"})).text
    assert csv_text.splitlines() == [",".join(activity.CSV_COLUMNS)]
    assert (await api.get(URL, params={**params, "format": "jsonl"})).text == ""


async def test_an_export_checks_its_filter_before_sending_anything(api: httpx.AsyncClient) -> None:
    params = {"format": "csv", "since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}
    r = await api.get(URL, params=params)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/json")


async def test_an_export_reads_in_batches_not_all_at_once(
    api: httpx.AsyncClient, rt: Runtime
) -> None:
    who = await admin_of(api, rt)
    await seed(rt, who, activity.EXPORT_BATCH * 2 + 1, utcnow() - timedelta(days=1))
    chunks = [
        c
        async for c in activity.export(rt, who, activity.checked_filter(ActivityFilter()), "jsonl")
    ]
    # One chunk per batch: the rows never sit in memory all at once.
    assert len(chunks) >= 3
    assert sum(c.count("\n") for c in chunks) == activity.EXPORT_BATCH * 2 + 2  # + the site
