"""Wire models of the orchestrators' probes (``/livez``, ``/readyz``)."""

from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether this process should be sent traffic, and what each check found."""

    status: Literal["ready", "unready", "draining"]
    checks: dict[str, str] = Field(
        description="database, migrations and worker: 'ok', 'not a worker', or what is wrong"
    )
