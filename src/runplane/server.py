"""Process entry points: ``serve`` (API, and worker unless told not) and ``run_worker``."""

import asyncio
import os
import signal
from typing import TYPE_CHECKING

import uvicorn

from runplane.logs import configure_logging
from runplane.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

_SETTINGS_ENV = "RUNPLANE_SERVE_SETTINGS"


def serve(settings: Settings) -> None:
    """Run the HTTP API (and, unless ``settings.worker`` is False, execute runs).

    With ``settings.processes`` above 1, that many processes share the port; each is a
    whole server with its own executor id (a process is bound to one core by the GIL).
    """
    configure_logging(settings.log_level, settings.log_format)
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        # uvicorn's loggers keep no handlers of their own: they reach ours.
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
    }
    if settings.processes == 1:
        from runplane.app import create_app

        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    # The parent only supervises: it loads none of the app (so it stays small).
    # Each process claims an executor id of its own, so none can be given to all.
    shared = settings.model_copy(update={"executor_id": None})
    os.environ[_SETTINGS_ENV] = shared.model_dump_json()
    uvicorn.run(
        "runplane.server:app_from_environment",
        factory=True,
        workers=settings.processes,
        **options,  # type: ignore[arg-type]
    )


def app_from_environment() -> "FastAPI":
    """The app of one of several server processes, from the settings ``serve`` passed on."""
    from runplane.app import create_app

    settings = Settings.model_validate_json(os.environ[_SETTINGS_ENV])
    # A fresh interpreter: the parent's logging setup did not come along.
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def run_worker(settings: Settings) -> None:
    """Execute runs from the queue, without an HTTP API, until SIGINT or SIGTERM."""
    from runplane.services.process import running_process

    settings = settings.model_copy(update={"worker": True})
    configure_logging(settings.log_level, settings.log_format)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_process(settings):
            await stop.wait()

    asyncio.run(_main())
