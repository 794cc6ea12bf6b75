"""``runplane models ls|show|set|rm`` and ``runplane models providers|provider-set|provider-rm``."""

import sys

import typer
from rich.table import Table
from rich.text import Text

from runplane.cli._context import connection, console, reporting_errors


def list_models(ctx: typer.Context) -> None:
    """List the model catalogue: built-in models and the tenant's own entries."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.models.list()
    table = Table(
        "name", "provider", "context", "in $/Mtok", "out $/Mtok", "cached $/Mtok", "source"
    )
    for m in page.items:
        table.add_row(
            m.name,
            m.provider,
            str(m.context_window),
            f"{m.input_per_mtok:g}",
            f"{m.output_per_mtok:g}",
            f"{m.cached_per_mtok:g}",
            m.source,
        )
    console().print(table)


def set_model(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The model's name, e.g. gpt-4o-mini or ollama/llama3.2."),
    provider: str = typer.Option(
        ..., "--provider", help="openai, anthropic, offline, or a model provider's name."
    ),
    context_window: int = typer.Option(..., "--context-window", min=1, help="Tokens it reads."),
    input_price: float = typer.Option(..., "--input", min=0, help="US$ per million input tokens."),
    output_price: float = typer.Option(
        ..., "--output", min=0, help="US$ per million output tokens."
    ),
    cached_price: float = typer.Option(
        0.0, "--cached", min=0, help="US$ per million cached input tokens."
    ),
) -> None:
    """Set the tenant's own entry (and prices) for model NAME (admin key)."""
    with reporting_errors(), connection(ctx).client() as client:
        entry = client.models.put(
            name,
            provider=provider,
            context_window=context_window,
            input_per_mtok=input_price,
            output_per_mtok=output_price,
            cached_per_mtok=cached_price,
        )
    console().print(Text.assemble(f"{entry.name} ", ("set", "green")), highlight=False)


def remove_model(ctx: typer.Context, name: str = typer.Argument(..., help="The model.")) -> None:
    """Remove the tenant's own entry for model NAME (the built-in one applies again)."""
    with reporting_errors(), connection(ctx).client() as client:
        client.models.delete(name)
    console().print(Text.assemble(f"{name} ", ("removed", "yellow")), highlight=False)


def list_providers(ctx: typer.Context) -> None:
    """List the tenant's model providers (keys masked; admin key)."""
    with reporting_errors(), connection(ctx).client() as client:
        page = client.models.list_providers()
    table = Table("name", "kind", "base url", "key", "default model", "default")
    for p in page.items:
        table.add_row(
            p.name,
            p.kind,
            p.base_url or "",
            p.api_key or "",
            p.default_model or "",
            "yes" if p.default else "",
        )
    console().print(table)


def set_provider(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the provider, e.g. openai-main."),
    kind: str = typer.Option(..., "--kind", help="openai (any compatible server) or anthropic."),
    base_url: str | None = typer.Option(None, "--base-url", help="The server's API base URL."),
    api_key_stdin: bool = typer.Option(
        False, "--api-key-stdin", help="Read the API key from standard input (kept if omitted)."
    ),
    default_model: str | None = typer.Option(
        None, "--default-model", help="The model of calls that name none."
    ),
    default: bool = typer.Option(
        False, "--default", help="Answer the tenant's calls that name no model."
    ),
) -> None:
    """Add or change the tenant's model provider NAME; its key is stored encrypted."""
    if kind not in ("openai", "anthropic"):
        raise typer.BadParameter("use openai or anthropic", param_hint="--kind")
    api_key = sys.stdin.read().strip() if api_key_stdin else None
    with reporting_errors(), connection(ctx).client() as client:
        stored = client.models.put_provider(
            name,
            kind,  # type: ignore[arg-type]
            base_url=base_url,
            api_key=api_key or None,
            default_model=default_model,
            default=default,
        )
    console().print(
        Text.assemble(f"{stored.name} ", ("set", "green"), f" key {stored.api_key or 'none'}"),
        highlight=False,
    )


def remove_provider(
    ctx: typer.Context, name: str = typer.Argument(..., help="The provider.")
) -> None:
    """Remove the tenant's model provider NAME and its key."""
    with reporting_errors(), connection(ctx).client() as client:
        client.models.delete_provider(name)
    console().print(Text.assemble(f"{name} ", ("removed", "yellow")), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``models`` group to the root command."""
    group = typer.Typer(
        help="The model catalogue, its prices and model providers.", no_args_is_help=True
    )
    group.command("ls")(list_models)
    group.command("set")(set_model)
    group.command("rm")(remove_model)
    group.command("providers")(list_providers)
    group.command("provider-set")(set_provider)
    group.command("provider-rm")(remove_provider)
    app.add_typer(group, name="models")
