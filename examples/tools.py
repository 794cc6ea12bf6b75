"""Example tools: a calendar, notes and email, kept in the database through ``records``.

Each tenant starts empty; the read tools seed a few sample notes and events the first
time they find their collection empty, so that the demo intent "email the team the
notes from Monday" works on a fresh database.
"""

import asyncio
import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

from runplane import ToolContext, tool

# Test hook: when this names a directory, ``send_email`` appends "<run_id> send_email"
# to <dir>/tools.log before it sends, so crash tests can count calls that started.
SIDE_EFFECTS_ENV = "RUNPLANE_EXAMPLES_SIDE_EFFECTS"
# Test hook: seconds ``send_email`` waits between logging and sending (a crash window).
SEND_DELAY_ENV = "RUNPLANE_EXAMPLES_SEND_DELAY"

EVENTS = "calendar_events"
NOTES = "notes"
OUTBOX = "outbox"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

SAMPLE_NOTES = [
    {"day": "Monday", "text": "Ship the billing fix before Thursday's release."},
    {"day": "Monday", "text": "Ana takes over on-call from Wednesday."},
    {"day": "Monday", "text": "The budget review moves to next week."},
    {"day": "Tuesday", "text": "Customer interviews: three booked, two to go."},
    {"day": "Friday", "text": "Retro: fewer meetings, longer focus blocks."},
]
SAMPLE_EVENTS = [
    {"day": "Monday", "time": "09:30", "title": "Team standup"},
    {"day": "Monday", "time": "14:00", "title": "Planning for the release"},
    {"day": "Tuesday", "time": "11:00", "title": "Design review"},
    {"day": "Thursday", "time": "16:00", "title": "Release"},
    {"day": "Friday", "time": "15:00", "title": "Team retro"},
]


# -- calendar --------------------------------------------------------------------------


@tool(
    integration="calendar",
    idempotent=True,
    description="List the calendar events of a day (a weekday name or a YYYY-MM-DD date).",
)
async def list_events(day: str, tool_ctx: ToolContext) -> list[dict[str, Any]]:
    """List a day's events by time, seeding sample events into an empty calendar."""
    weekday = normalise_day(day)
    events = await _seeded(tool_ctx, EVENTS, SAMPLE_EVENTS)
    found = [_public(e) for e in events if e.get("day") == weekday]
    return sorted(found, key=lambda e: e["time"])


@tool(
    integration="calendar",
    description="Create a calendar event with a title on a day, at a time (HH:MM, default 09:00).",
)
async def create_event(
    title: str, day: str, tool_ctx: ToolContext, time: str = "09:00"
) -> dict[str, Any]:
    """Add an event to the calendar."""
    event = {"title": title.strip(), "day": normalise_day(day), "time": normalise_time(time)}
    return _public(await tool_ctx.records.add(EVENTS, event))


# -- notes -----------------------------------------------------------------------------


@tool(
    integration="notes",
    idempotent=True,
    description="Read the notes written on a day (a weekday name or a YYYY-MM-DD date).",
)
async def read_notes(day: str, tool_ctx: ToolContext) -> list[dict[str, Any]]:
    """Return a weekday's notes, oldest first, seeding sample notes into an empty notebook."""
    weekday = normalise_day(day)
    notes = await _seeded(tool_ctx, NOTES, SAMPLE_NOTES)
    return [_public(n) for n in notes if n.get("day") == weekday]


@tool(integration="notes", description="Add a note with some text to a day's notes.")
async def add_note(text: str, day: str, tool_ctx: ToolContext) -> dict[str, Any]:
    """Write a note under a weekday."""
    if not text.strip():
        raise ValueError("a note needs some text")
    note = {"day": normalise_day(day), "text": text.strip()}
    return _public(await tool_ctx.records.add(NOTES, note))


# -- email -----------------------------------------------------------------------------


@tool(
    integration="email",
    requires_auth=True,
    description="Send an email with a subject and a body to a recipient, as the acting user.",
)
async def send_email(to: str, subject: str, body: str, tool_ctx: ToolContext) -> dict[str, Any]:
    """Put an email in the tenant's outbox, sent as the run's user with their credential."""
    _log_side_effect(tool_ctx.run_id)  # test hook, see SIDE_EFFECTS_ENV
    delay = float(os.environ.get(SEND_DELAY_ENV, "0"))
    if delay > 0:
        await asyncio.sleep(delay)
    sent = await tool_ctx.records.add(
        OUTBOX,
        {
            "to": to.strip(),
            "subject": subject.strip(),
            "body": body,
            "sender": tool_ctx.user_id,
            # Enough to tell which credential was used; the credential itself is never kept.
            "credential": mask(tool_ctx.credential),
            "run_id": tool_ctx.run_id,
        },
    )
    return {
        "id": sent["id"],
        "status": "sent",
        "to": sent["to"],
        "subject": sent["subject"],
        "sender": sent["sender"],
        "credential": sent["credential"],
        "sent_at": sent["created_at"],
    }


# -- helpers ---------------------------------------------------------------------------


def normalise_day(day: str) -> str:
    """A weekday name from "monday", "Mon" or a YYYY-MM-DD date; ``ValueError`` otherwise."""
    text = day.strip()
    try:
        return WEEKDAYS[dt.date.fromisoformat(text).weekday()]
    except ValueError:
        pass
    for weekday in WEEKDAYS:
        if len(text) >= 3 and weekday.lower().startswith(text.lower()):
            return weekday
    raise ValueError(f"{day!r} is not a weekday name or a YYYY-MM-DD date")


def normalise_time(time: str) -> str:
    """``HH:MM`` from "9", "9:30" or "09:30"; ``ValueError`` otherwise."""
    found = re.fullmatch(r"\s*(\d{1,2})(?::(\d{2}))?\s*", time)
    if not found or int(found.group(1)) > 23 or int(found.group(2) or 0) > 59:
        raise ValueError(f"{time!r} is not a time of day like 09:30")
    return f"{int(found.group(1)):02d}:{int(found.group(2) or 0):02d}"


def mask(credential: str | None) -> str | None:
    """The last four characters of a credential, the rest hidden (short ones entirely)."""
    if not credential:
        return None
    return "****" + credential[-4:] if len(credential) >= 12 else "****"


async def _seeded(
    tool_ctx: ToolContext, collection: str, samples: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    documents = await tool_ctx.records.list(collection)
    if documents:
        return documents
    # Two first runs at once may both seed; for sample data that is harmless.
    return [await tool_ctx.records.add(collection, dict(sample)) for sample in samples]


def _public(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "created_at"}


def _log_side_effect(run_id: str) -> None:
    directory = os.environ.get(SIDE_EFFECTS_ENV)
    if not directory:
        return
    with open(Path(directory) / "tools.log", "a", encoding="utf-8") as log:
        log.write(f"{run_id} send_email\n")
        log.flush()
        os.fsync(log.fileno())
