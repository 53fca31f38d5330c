"""`sales-agent secrets keygen|rotate`: the keys that encrypt tenants' secrets at rest."""

from __future__ import annotations

import typer

from sales_agent_pipeline.cli.context import errors, settings, transaction
from sales_agent_pipeline.db.repositories.tenant_secrets import rotate_all
from sales_agent_pipeline.secretbox import generate_key, secret_box

secrets_app = typer.Typer(help="The Fernet keys that encrypt tenants' secrets in the database.")


@secrets_app.command("keygen")
def keygen() -> None:
    """Print a new key for SECRETS_ENCRYPTION_KEYS (first = encrypts) or a key file."""
    typer.echo(generate_key())


@secrets_app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret with the first key; then the old keys can go."""
    config = settings()
    with errors():
        box = secret_box(config)
        with transaction(config) as session:
            rotated, current = rotate_all(session, box)
    typer.echo(
        f"re-encrypted {rotated} secret{'' if rotated == 1 else 's'} with the first key "
        f"({current} already used it)"
    )
