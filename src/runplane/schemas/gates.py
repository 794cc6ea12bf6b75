"""Wire models of publishing through the replay gate."""

from pydantic import Field

from runplane.schemas.wire import _Strict

__all__ = ["PublishRequest"]


class PublishRequest(_Strict):
    """Publish a revision; ``override_reason`` (admins) publishes over a failing replay gate."""

    override_reason: str | None = Field(default=None, min_length=1, max_length=2000)
