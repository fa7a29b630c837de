"""Operator commands: flask --app wsgi api-keys|credentials|threads|usage|data ..."""
import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from .auth import EXTENSION as KEY_CACHE, create_api_key, revoke_api_key
from .extensions import db
from .models import ApiKey

api_keys = AppGroup("api-keys", help="Create, list and revoke API keys.")
credentials = AppGroup("credentials", help="Maintain stored provider credentials.")
threads = AppGroup("threads", help="Maintain threads and sessions.")
usage = AppGroup("usage", help="Maintain the token usage records.")
data = AppGroup("data", help="Check the stored data.")
BUDGET = click.IntRange(min=0)


@api_keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--tenant", default="default", show_default=True, help="The tenant whose data the key reaches.")
@click.option("--daily-token-budget", type=BUDGET, default=None,
              help="Tokens (prompt + completion) the key's turns may use per UTC day; no limit if left out.")
def create_key(name, tenant, daily_token_budget):
    """Create a key; it is printed once, alone on the last line."""
    row, key = create_api_key(name, tenant, daily_token_budget)
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
        budget = "no budget" if row.daily_token_budget is None else f"{row.daily_token_budget} tokens/day"
        click.echo(f"{row.id}\t{row.key_prefix}...\t{row.tenant}\t{row.name}\t{state}\t{budget}")


@api_keys.command("revoke")
@click.argument("key_id", type=int)
def revoke_key(key_id):
    """Revoke a key by its id (see list)."""
    row = db.session.get(ApiKey, key_id)
    if row is None:
        raise click.ClickException(f"No API key with id {key_id}.")
    revoke_api_key(row)
    click.echo(f"Revoked API key {row.id} ({row.name}).")


@api_keys.command("set-budget")
@click.argument("key_id", type=int)
@click.option("--daily-token-budget", type=BUDGET, help="Tokens per UTC day (0 refuses every turn).")
@click.option("--none", "no_budget", is_flag=True, help="Remove the key's budget.")
def set_budget(key_id, daily_token_budget, no_budget):
    """Set or remove a key's daily token budget (workers see it within seconds)."""
    if (daily_token_budget is None) == (not no_budget):
        raise click.UsageError("Give either --daily-token-budget N or --none.")
    row = db.session.get(ApiKey, key_id)
    if row is None:
        raise click.ClickException(f"No API key with id {key_id}.")
    row.daily_token_budget = daily_token_budget
    db.session.commit()
    current_app.extensions[KEY_CACHE].clear()
    click.echo(f"API key {row.id} ({row.name}): " + ("no daily token budget." if no_budget
                                                     else f"{daily_token_budget} tokens per UTC day."))


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


@usage.command("purge")
@click.option("--before", required=True, help="Delete records older than this: a date (2026-01-01, UTC), "
                                              "an ISO 8601 time or unix seconds.")
def purge_usage(before):
    """Delete token usage records older than a date (retention; run it from cron)."""
    from marshmallow import ValidationError

    from .schemas.usage import Moment
    from .services.usage import purge_before

    try:
        moment = Moment().deserialize(before)
    except ValidationError as err:
        raise click.BadParameter(" ".join(err.messages), param_hint="--before") from None
    click.echo(f"Deleted {purge_before(moment)} usage record(s) from before {moment:%Y-%m-%d %H:%M:%S} UTC.")


@data.command("check")
def check_data():
    """Check the database: its file (SQLite), rows pointing nowhere, conversations that lost their
    messages (the upgrade of 2026-11-30 on SQLite). Exits 1 when it finds a problem."""
    from .upgrades import dangling_rows, integrity_problems, threads_without_history

    with db.engine.connect() as connection:
        problems = [f"database file: {problem}" for problem in integrity_problems(connection)]
        problems += [f"rows pointing nowhere: {problem}" for problem in dangling_rows(connection)]
        lost = threads_without_history(connection)
    if lost:
        problems.append(f"{len(lost)} thread(s) were used but hold no message, likely emptied by the "
                        f"upgrade of 2026-11-30: {', '.join(lost)}. Restore the database from a copy "
                        "taken before that upgrade (docs/deployment.rst, 'Upgrading').")
    if not problems:
        click.echo("No problem found.")
        return
    for problem in problems:
        click.echo(f"- {problem}")
    raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(api_keys)
    app.cli.add_command(credentials)
    app.cli.add_command(threads)
    app.cli.add_command(usage)
    app.cli.add_command(data)
