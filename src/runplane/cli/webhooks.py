"""``runplane webhooks endpoints|deliveries …``: lifecycle webhooks (admin keys)."""

from collections.abc import Iterable

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors
from runplane.cli._render import format_time
from runplane.schemas import WebhookDeliveryPublic, WebhookEndpointPublic


def endpoints_table(endpoints: Iterable[WebhookEndpointPublic]) -> Table:
    """A table of endpoints: id, URL, events, enabled, why disabled, creation time."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "URL", "EVENTS", "ENABLED", "NOTE", "CREATED"):
        table.add_column(column, no_wrap=column in ("ID", "ENABLED", "CREATED"))
    for e in endpoints:
        table.add_row(
            e.id,
            e.url,
            ",".join(e.events),
            "yes" if e.enabled else "no",
            e.disabled_reason or e.description or "",
            format_time(e.created_at),
        )
    return table


def deliveries_table(deliveries: Iterable[WebhookDeliveryPublic]) -> Table:
    """A table of deliveries: id, run, event, target, status, attempts, last answer."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "RUN", "EVENT", "ENDPOINT", "STATUS", "TRIES", "LAST", "CREATED"):
        table.add_column(column, no_wrap=True)
    for d in deliveries:
        last = str(d.last_status_code) if d.last_status_code else (d.last_error or "")
        table.add_row(
            d.id,
            d.run_id,
            d.event,
            d.endpoint_id or "notify",
            d.status,
            str(d.attempt_count),
            last[:40],
            format_time(d.created_at),
        )
    return table


def create_endpoint(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="Where the events are POSTed."),
    event: list[str] = typer.Option(
        ["*"], "--event", "-e", help="An event to send (run.succeeded, …; repeat), or *."
    ),
    secret: str | None = typer.Option(
        None, "--secret", help="A whsec_… secret of its own (else the tenant's)."
    ),
    description: str | None = typer.Option(None, "--description", help="A note."),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
) -> None:
    """Add an endpoint that gets the tenant's run lifecycle events."""
    with reporting_errors(), connection(ctx).client() as client:
        made = client.webhooks.create_endpoint(
            url, event, secret=secret, enabled=not disabled, description=description
        )
    console().print(endpoints_table([made]))


def list_endpoints(ctx: typer.Context) -> None:
    """List the tenant's webhook endpoints (never their secrets)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.webhooks.list_endpoints()
    console().print(endpoints_table(page.items))


def set_enabled(
    ctx: typer.Context,
    endpoint_id: str = typer.Argument(..., help="The endpoint's id (whe_…)."),
    enabled: bool = typer.Option(True, "--enable/--disable", help="Enable or disable it."),
) -> None:
    """Enable or disable ENDPOINT_ID."""
    with reporting_errors(), connection(ctx).client() as client:
        made = client.webhooks.update_endpoint(endpoint_id, enabled=enabled)
    console().print(endpoints_table([made]))


def delete_endpoint(
    ctx: typer.Context, endpoint_id: str = typer.Argument(..., help="The endpoint's id (whe_…).")
) -> None:
    """Remove ENDPOINT_ID; its pending deliveries are not sent."""
    with reporting_errors(), connection(ctx).client() as client:
        client.webhooks.delete_endpoint(endpoint_id)
    console().print(Text.assemble(f"{endpoint_id} ", ("deleted", "magenta")))


def list_deliveries(
    ctx: typer.Context,
    endpoint_id: str | None = typer.Option(None, "--endpoint", help="Only this endpoint's."),
    run_id: str | None = typer.Option(None, "--run", help="Only this run's."),
    status: str | None = typer.Option(None, "--status", help="pending, delivered or failed."),
    limit: int = typer.Option(20, "--limit", help="How many, newest first."),
) -> None:
    """List webhook deliveries, newest first."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.webhooks.deliveries(
            endpoint_id=endpoint_id,
            run_id=run_id,
            status=status,  # type: ignore[arg-type]
            limit=limit,
        )
    console().print(deliveries_table(page.items))


def show_delivery(
    ctx: typer.Context, delivery_id: str = typer.Argument(..., help="The delivery's id (msg_…).")
) -> None:
    """Show DELIVERY_ID with every attempt: status code, latency, answer, error."""
    with reporting_errors(), connection(ctx).client() as client:
        found = client.webhooks.delivery(delivery_id)
    console().print(deliveries_table([found]))
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("#", "AT", "STATUS", "MS", "ANSWER / ERROR"):
        table.add_column(column)
    for a in found.attempts or []:
        table.add_row(
            str(a.number),
            format_time(a.at),
            str(a.status_code or ""),
            f"{a.latency_ms:.0f}",
            (a.error or a.response or "")[:80],
        )
    console().print(table)


def redeliver(
    ctx: typer.Context, delivery_id: str = typer.Argument(..., help="The delivery's id (msg_…).")
) -> None:
    """Send DELIVERY_ID again, with the same webhook-id."""
    with reporting_errors(), connection(ctx).client() as client:
        found = client.webhooks.redeliver(delivery_id)
    console().print(deliveries_table([found]))


def register(app: typer.Typer) -> None:
    """Add the ``webhooks`` group (``endpoints`` and ``deliveries``) to the root command."""
    group = typer.Typer(help="Lifecycle webhooks: endpoints and deliveries.", no_args_is_help=True)
    endpoints = typer.Typer(help="Where the tenant's run events go.", no_args_is_help=True)
    endpoints.command("create")(create_endpoint)
    endpoints.command("ls")(list_endpoints)
    endpoints.command("set")(set_enabled)
    endpoints.command("rm")(delete_endpoint)
    deliveries = typer.Typer(help="What was sent, and how it went.", no_args_is_help=True)
    deliveries.command("ls")(list_deliveries)
    deliveries.command("show")(show_delivery)
    deliveries.command("redeliver")(redeliver)
    group.add_typer(endpoints, name="endpoints")
    group.add_typer(deliveries, name="deliveries")
    app.add_typer(group, name="webhooks")
