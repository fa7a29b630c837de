"""Operator commands: flask --app wsgi api-keys|credentials|threads ..."""
import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from .auth import create_api_key, revoke_api_key
from .extensions import db
from .models import ApiKey

api_keys = AppGroup("api-keys", help="Create, list and revoke API keys.")
credentials = AppGroup("credentials", help="Maintain stored provider credentials.")
threads = AppGroup("threads", help="Maintain threads and sessions.")


@api_keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--tenant", default="default", show_default=True, help="The tenant whose data the key reaches.")
def create_key(name, tenant):
    """Create a key; it is printed once, alone on the last line."""
    row, key = create_api_key(name, tenant)
    click.echo(f"Created API key {row.id} ({row.name}, tenant {row.tenant}). It is shown only once:")
    click.echo(key)


@api_keys.command("bootstrap")
def bootstrap_key():
    """Create a first key when there is none (make run does this)."""
    if db.session.scalar(select(func.count()).select_from(ApiKey)):
        return
    row, key = create_api_key("first key", "default")
    click.echo("No API key existed, so one was created. Use it as 'Authorization: Bearer <key>'; "
               "it is shown only once:")
    click.echo(key)


@api_keys.command("list")
def list_keys():
    """List keys (their prefixes, never the keys)."""
    for row in db.session.scalars(select(ApiKey).order_by(ApiKey.id)):
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.key_prefix}...\t{row.tenant}\t{row.name}\t{state}")


@api_keys.command("revoke")
@click.argument("key_id", type=int)
def revoke_key(key_id):
    """Revoke a key by its id (see list)."""
    row = db.session.get(ApiKey, key_id)
    if row is None:
        raise click.ClickException(f"No API key with id {key_id}.")
    revoke_api_key(row)
    click.echo(f"Revoked API key {row.id} ({row.name}).")


@credentials.command("rotate-key")
def rotate_key():
    """Re-encrypt every credential under the first ASSISTANTS_SECRET_KEYS key."""
    from .services.credentials import rotate_all_keys

    click.echo(f"Re-encrypted {rotate_all_keys()} credential(s) under the first key.")


@threads.command("purge")
def purge_threads():
    """Delete threads and sessions idle for longer than their agent's session_max_ttl (run it from cron)."""
    from .services.sessions import purge_expired

    click.echo(f"Deleted {purge_expired()} expired thread(s).")


def init_app(app: Flask) -> None:
    app.cli.add_command(api_keys)
    app.cli.add_command(credentials)
    app.cli.add_command(threads)
