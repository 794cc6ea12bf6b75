"""Wire models shared by the API and the client."""

from runplane.schemas.wire import (
    AgentPublic,
    ErrorBody,
    EventPublic,
    ModelSettings,
    Page,
    RevisionPublic,
    RunCancelReceipt,
    RunCreate,
    RunDuplicate,
    RunErrorInfo,
    RunPublic,
    RunRerun,
    RunResult,
    StepPublic,
    VerifyResult,
)

__all__ = [
    "AgentPublic",
    "ErrorBody",
    "EventPublic",
    "ModelSettings",
    "Page",
    "RevisionPublic",
    "RunCancelReceipt",
    "RunCreate",
    "RunDuplicate",
    "RunErrorInfo",
    "RunPublic",
    "RunRerun",
    "RunResult",
    "StepPublic",
    "VerifyResult",
]
