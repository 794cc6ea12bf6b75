"""Wire models of ``/v1/triggers``: schedules, signed webhooks and uploads that start runs."""

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from runplane.schemas.wire import _Strict

# ``agent`` triggers fit the same resource; they are not offered yet.
TriggerKind = Literal["schedule", "webhook", "upload"]
CatchUp = Literal["once", "skip"]
# A top-level field of the run's input -> a JSON Pointer (RFC 6901) into the webhook body.
Mapping = dict[str, str]


class TriggerCreate(_Strict):
    """The body of ``POST /v1/triggers``: what starts runs of which agent, and with what."""

    kind: TriggerKind
    agent_id: str = Field(min_length=1, max_length=200)
    revision_id: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    input: Any = None
    variables: dict[str, Any] = {}
    enabled: bool = True
    user_id: str | None = Field(default=None, max_length=200)
    schedule: str | None = Field(
        default=None,
        max_length=200,
        description="cron: 5 fields, or 6 with seconds first (schedule triggers)",
        examples=["0 9 * * mon-fri", "*/10 * * * * *"],
    )
    timezone: str | None = Field(default=None, max_length=64, examples=["Europe/Paris"])
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    catch_up: CatchUp = "once"
    mapping: Mapping | None = Field(
        default=None,
        description="webhook triggers: input field -> JSON Pointer into the request body",
        examples=[{"question": "/issue/title"}],
    )
    site_id: str | None = Field(
        default=None,
        max_length=200,
        description="upload triggers: the site (id or name) whose new files start runs",
    )
    glob: str | None = Field(
        default=None,
        max_length=200,
        description="upload triggers: the file names that start runs (fnmatch, any case)",
        examples=["*.csv"],
    )
    media_type: str | None = Field(
        default=None,
        max_length=100,
        description="upload triggers: the media types that start runs, exact or `type/*`",
        examples=["text/csv", "text/*"],
    )


class TriggerPatch(_Strict):
    """The body of ``PATCH /v1/triggers/{id}``: what changes (its kind and agent do not)."""

    revision_id: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    input: Any = None
    variables: dict[str, Any] | None = None
    enabled: bool | None = None
    schedule: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    catch_up: CatchUp | None = None
    mapping: Mapping | None = None
    site_id: str | None = Field(default=None, max_length=200)
    glob: str | None = Field(default=None, max_length=200)
    media_type: str | None = Field(default=None, max_length=100)


class TriggerPublic(BaseModel):
    """A trigger; ``secret`` (webhooks) is shown once, in the answer that creates it."""

    id: str
    object: Literal["trigger"] = "trigger"
    kind: str
    name: str | None = None
    agent_id: str
    revision_id: str | None = None
    input: Any = None
    variables: dict[str, Any] = {}
    enabled: bool
    user_id: str | None = None
    schedule: str | None = None
    timezone: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    catch_up: CatchUp | None = None
    paused: bool = False
    next_fire_at: datetime | None = None
    next_fire_times: list[datetime] = []
    last_fired_at: datetime | None = None
    last_run_id: str | None = None
    mapping: Mapping | None = None
    hook_url: str | None = None
    site_id: str | None = None
    glob: str | None = None
    media_type: str | None = None
    secret: str | None = None
    created_at: datetime
    updated_at: datetime


class HookAccepted(BaseModel):
    """The answer to a webhook delivery: the run it started (or had started for that id)."""

    run_id: str
    trigger_id: str
