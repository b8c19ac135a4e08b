"""``datasette internal ...``: init, status, migrate, check, backup."""

import asyncio
import contextlib
import json
import os
import sqlite3
import sys

import click
from datasette.utils import StartupError

from . import replication
from . import status as status_module
from .database import InternalDatabaseLocked, lock_file, release_server_lock
from .lifecycle import migration_sets
from .safety import internal_reason, table_names


def new_datasette(path):
    # Imported at call time: importing datasette.app loads every plugin (see lifecycle).
    from datasette.app import Datasette

    return Datasette([], internal=path)


def started(path):
    """Run core's whole startup against PATH (checks, lock, migrations, marker), then close."""
    datasette = new_datasette(path)
    try:
        asyncio.run(datasette.invoke_startup())
    except StartupError as error:
        raise click.ClickException(str(error)) from None
    finally:
        datasette.close()
        release_server_lock(datasette)


def existing(path):
    if not os.path.exists(path):
        raise click.ClickException(f"{path} does not exist")
    return path


@click.group()
def internal():
    """Manage Datasette's internal database (datasette-internal-db)."""


@internal.command()
@click.argument("path", type=click.Path(dir_okay=False))
def init(path):
    """Create (or bring up to date) an internal database at PATH: mark it and migrate it."""
    started(path)
    click.echo(f"Initialised internal database {path}")


@internal.command()
@click.argument("path", type=click.Path(dir_okay=False))
def migrate(path):
    """Apply every pending migration of core and installed plugins to PATH."""
    existing(path)
    started(path)
    click.echo(f"Migrated {path}")


@internal.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Output JSON")
def status(path, as_json):
    """Marker, each migration set's applied and pending steps, tables with rows and bytes."""
    existing(path)
    sets = migration_sets(new_datasette(path))
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        info = status_module.collect(conn, sets)
    finally:
        conn.close()
    replicated = replication.status(path)
    if as_json:
        click.echo(json.dumps(dict(info, path=path, replication=replicated), indent=2))
    else:
        click.echo(status_module.render_text(path, info))
        click.echo("\n".join(replication.render_status(replicated)))


@internal.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files):
    """Exit 1, naming each one, if any FILE is a Datasette internal database."""
    found = False
    for path in files:
        reason = internal_reason(table_names(existing(path)))
        if reason:
            found = True
            click.echo(f"{path}: internal database ({reason}); do not serve it", err=True)
    if found:
        sys.exit(1)
    click.echo(f"OK: none of {len(files)} file(s) is an internal database")


@internal.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("dest", type=click.Path(dir_okay=False))
def backup(path, dest):
    """Copy PATH to DEST consistently, even while a server is writing to it."""
    existing(path)
    if os.path.exists(dest):
        raise click.ClickException(f"{dest} already exists; choose a new file")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        target.execute("pragma journal_mode=wal")
        result = target.execute("pragma integrity_check").fetchone()[0]
    finally:
        source.close()
        target.close()
    if result != "ok":
        raise click.ClickException(f"Backup {dest} failed integrity_check: {result}")
    click.echo(f"Backed up {path} to {dest} (integrity_check ok)")


@internal.command("drop-set")
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("set_name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
def drop_set(path, set_name, yes):
    """Drop the tables and migration records of SET_NAME, a plugin no longer installed.

    Refused while the plugin is installed or while a server holds PATH.
    """
    existing(path)
    installed = migration_sets(new_datasette(path))
    if set_name in {migration_set.name for migration_set in installed}:
        raise click.ClickException(
            f"{set_name} is installed: uninstall its plugin first, or its next start recreates it"
        )
    try:
        lock = lock_file(path)
    except InternalDatabaseLocked as error:
        raise click.ClickException(str(error)) from None
    # Closed before the lock: closing any descriptor of the file drops SQLite's own locks.
    with lock, contextlib.closing(sqlite3.connect(path)) as conn:
        info = status_module.collect(conn, installed)
        entry = next((e for e in info["uninstalled"] if e["set"] == set_name), None)
        if entry is None:
            raise click.ClickException(f"{path} has no uninstalled migration set {set_name}")
        tables = entry["tables"]
        if not yes:
            click.confirm(f"Drop {set_name}'s tables {', '.join(tables) or '(none)'}?", abort=True)
        with conn:
            for table in tables:
                conn.execute(f'drop table "{table}"')
            conn.execute("delete from _sqlite_migrations where migration_set = ?", [set_name])
    click.echo(f"Dropped {len(tables)} table(s) of {set_name} from {path}")
