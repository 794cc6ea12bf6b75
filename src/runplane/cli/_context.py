"""What every command shares: the server connection, the consoles, settings and errors."""

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError as SchemaError
from rich.console import Console
from rich.text import Text

from runplane.client import Client, RetryNote, RunplaneAPIError, RunplaneConnectionError

if TYPE_CHECKING:
    from runplane.settings import Settings

# Off a terminal Rich would cut lines at 80 columns; pipes and files get whole lines.
PIPE_WIDTH = 200


@dataclass(frozen=True)
class Connection:
    """Where the server is and which key to send, from the global options."""

    url: str | None = None
    api_key: str | None = None

    def client(self) -> Client:
        """Open a client of the server; it says on stderr when it sends a call again."""
        return Client(self.url, self.api_key, on_retry=note_retry)


def note_retry(note: RetryNote) -> None:
    """Say on stderr that a call failed for now and when it goes again."""
    text = f"retrying in {note.delay:.1f} s ({note.reason})"
    console(stderr=True).print(Text(text, style="yellow"), soft_wrap=True)


def connection(ctx: typer.Context) -> Connection:
    """Return the connection the root command recorded."""
    return ctx.find_object(Connection) or Connection()


def console(*, stderr: bool = False) -> Console:
    """Return a Rich console on stdout (or stderr), wide when it is not a terminal."""
    made = Console(stderr=stderr)
    if made.is_terminal or "COLUMNS" in os.environ:
        return made
    return Console(stderr=stderr, width=PIPE_WIDTH)


def print_error(message: str, details: Iterable[tuple[str, Any]] = ()) -> None:
    """Print ``error: message`` in red on stderr, then one line per detail."""
    err = console(stderr=True)
    err.print(Text(f"error: {message}", style="red"), soft_wrap=True)
    for name, value in details:
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        err.print(Text(f"  {name}: {shown}", style="red"), soft_wrap=True)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn API, connection and input errors into a red line and an exit code."""
    # Imported here: the domain's errors belong to the local commands (db, keys).
    from runplane.domain.errors import RunplaneError

    try:
        yield
    except RunplaneAPIError as exc:
        print_error(exc.message, [(d.name, d.value) for d in exc.details])
        raise typer.Exit(1) from None
    except RunplaneConnectionError as exc:
        print_error(exc.message)
        raise typer.Exit(1) from None
    except SchemaError as exc:
        details = [(".".join(map(str, e["loc"])) or "value", e["msg"]) for e in exc.errors()]
        print_error("invalid value", details)
        raise typer.Exit(2) from None
    except RunplaneError as exc:
        print_error(exc.message, [(d.get("name", ""), d.get("value")) for d in exc.details])
        raise typer.Exit(1) from None
    except Exception as exc:
        # Only the local commands load SQLAlchemy; its errors mean the database failed.
        database_errors = sys.modules.get("sqlalchemy.exc")
        if database_errors is None or not isinstance(exc, database_errors.DBAPIError):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        print_error(f"the database failed: {reason}")
        raise typer.Exit(1) from None


def build_settings(**flags: Any) -> "Settings":
    """Build ``Settings`` from the environment, overridden by the flags that were given."""
    from runplane.settings import Settings

    return Settings(**{name: value for name, value in flags.items() if value is not None})


def parse_json(text: str, option: str) -> Any:
    """Read an option's value as JSON, or stop with a usage error (exit code 2)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON ({exc})", param_hint=option) from None


def parse_variables(pairs: Iterable[str]) -> dict[str, Any]:
    """Read ``key=value`` pairs; a value is JSON when it parses as JSON, else text."""
    variables: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--var")
        try:
            variables[key] = json.loads(value)
        except json.JSONDecodeError:
            variables[key] = value
    return variables
