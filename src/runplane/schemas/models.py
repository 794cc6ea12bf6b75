"""Wire models of the model catalogue (``/v1/models``) and model providers (``/v1/model-providers``)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"


class ModelPublic(BaseModel):
    """A model of the catalogue: its provider, context window and prices."""

    name: str
    provider: str = Field(description="openai, anthropic, offline, or a tenant model provider")
    context_window: int = Field(description="tokens the model reads at most")
    input_per_mtok: float = Field(description="US dollars per million input tokens")
    output_per_mtok: float = Field(description="US dollars per million output tokens")
    cached_per_mtok: float = Field(description="US dollars per million cached input tokens")
    source: Literal["builtin", "tenant"] = Field(
        description="builtin, or tenant: the tenant's own entry (over a built-in one)"
    )


class ModelPut(BaseModel):
    """The tenant's own entry for a model (prices in US dollars per million tokens)."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=100)
    context_window: int = Field(ge=1, le=100_000_000)
    input_per_mtok: float = Field(ge=0, le=100_000)
    output_per_mtok: float = Field(ge=0, le=100_000)
    cached_per_mtok: float = Field(default=0.0, ge=0, le=100_000)


class ModelProviderPublic(BaseModel):
    """A tenant's model provider; its key is shown by its last characters only."""

    name: str
    kind: Literal["openai", "anthropic"]
    base_url: str | None
    api_key: str | None = Field(description="masked: the key's last four characters")
    default_model: str | None
    default: bool = Field(description="answers the tenant's calls that name no model")
    created_at: datetime
    updated_at: datetime


class ModelProviderPut(BaseModel):
    """A model provider of the tenant: its kind, endpoint and key (stored encrypted)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["openai", "anthropic"]
    base_url: str | None = Field(default=None, max_length=2000)
    api_key: str | None = Field(
        default=None, min_length=1, max_length=4000, description="omitted: keep the stored key"
    )
    default_model: str | None = Field(default=None, min_length=1, max_length=200)
    default: bool = False
