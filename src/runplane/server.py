"""Process entry points: ``serve`` (by role: API, worker or both) and ``run_worker``."""

import asyncio
import os
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from runplane.logs import configure_logging
from runplane.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

_SETTINGS_ENV = "RUNPLANE_SERVE_SETTINGS"
KEEP_ALIVE_SECONDS = 75


def serve(settings: Settings) -> None:
    """Run the process ``settings.role`` says: the HTTP API, a worker, or both in one.

    With ``settings.processes`` above 1, that many processes share the port; each is a
    whole server with its own executor id (a process is bound to one core by the GIL).
    """
    if settings.role == "worker":
        run_worker(settings)
        return
    configure_logging(settings.log_level, settings.log_format)
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        # uvicorn's loggers keep no handlers of their own: they reach ours.
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        # Longer than clients keep an idle connection (httpx: 5 s, load balancers: 60 s):
        # a server that closes first races the client's next request on it, which then
        # breaks with no answer (a POST cannot be safely sent again).
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        # The app reads X-Forwarded-* itself (create_app), from RUNPLANE_FORWARDED_ALLOW_IPS
        # only, so that it behaves the same however it is served.
        "proxy_headers": False,
    }
    if settings.processes == 1:
        from runplane.app import create_app

        app = create_app(settings)
        config = uvicorn.Config(app, **options)  # type: ignore[arg-type]
        DrainingServer(config, app, settings.drain_seconds).run()
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

    _stop_when_orphaned()
    settings = Settings.model_validate_json(os.environ[_SETTINGS_ENV])
    # A fresh interpreter: the parent's logging setup did not come along.
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def _stop_when_orphaned() -> None:
    """Shut this process down (as SIGTERM does) once the supervisor that started it is gone.

    A supervisor killed outright (SIGKILL, the OOM killer) cannot stop its processes; left
    alone they would go on serving and executing, unsupervised, until someone notices.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, but SIGTERM drains the process first (``services/process.py:drain``).

    While it drains, the API still answers (``/readyz`` says 503 ``draining``, so a load
    balancer stops sending); then the server stops as on SIGINT and the process exits 0.
    A second SIGTERM, or SIGINT, stops it at once, as uvicorn does.
    """

    def __init__(self, config: uvicorn.Config, app: "FastAPI", grace: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace
        self._drain: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Begin a drain on the first SIGTERM once started; otherwise stop as uvicorn does."""
        if sig == signal.SIGTERM and self._drain is None and self.started:
            # Not recorded as uvicorn's captured signal: it would raise it again at exit,
            # and the process would end killed by it instead of with 0.
            self._drain = asyncio.get_event_loop().create_task(self._drain_then_exit())
            return
        super().handle_exit(sig, frame)

    async def _drain_then_exit(self) -> None:
        from runplane.services.process import drain

        try:
            await drain(self.app.state.rt, self.grace)
        finally:
            self.should_exit = True


def run_worker(settings: Settings) -> None:
    """Execute runs from the queue, without an HTTP API, until SIGINT or SIGTERM.

    SIGTERM drains first (``services/process.py:drain``); SIGINT, or a second SIGTERM,
    stops at once.
    """
    from runplane.services.process import drain, running_process

    settings = settings.model_copy(update={"role": "worker"})
    configure_logging(settings.log_level, settings.log_format)

    async def _main() -> None:
        stop = asyncio.Event()
        term = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, lambda: (stop if term.is_set() else term).set())
        async with running_process(settings) as rt:
            waits = [asyncio.ensure_future(e.wait()) for e in (stop, term)]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if term.is_set() and not stop.is_set():
                draining = asyncio.ensure_future(drain(rt, settings.drain_seconds))
                await asyncio.wait([draining, waits[0]], return_when=asyncio.FIRST_COMPLETED)
                draining.cancel()  # a second signal: stop at once
            for task in waits:
                task.cancel()

    asyncio.run(_main())
