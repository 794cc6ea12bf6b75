"""Process entry points: ``serve`` (API, and worker unless told not) and ``run_worker``."""

import asyncio
import signal

import uvicorn

from runplane.api.app import create_app
from runplane.services.process import running_process
from runplane.settings import Settings


def serve(settings: Settings) -> None:
    """Run the HTTP API (and, unless ``settings.worker`` is False, execute runs)."""
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def run_worker(settings: Settings) -> None:
    """Execute runs from the queue, without an HTTP API, until SIGINT or SIGTERM."""
    settings = settings.model_copy(update={"worker": True})

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_process(settings):
            await stop.wait()

    asyncio.run(_main())
