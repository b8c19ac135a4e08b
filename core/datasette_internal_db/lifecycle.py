"""Startup of the internal DB: safety checks, durability, lock, migrations, marker."""

import functools
import logging
import secrets as random
from importlib.metadata import version

from datasette.utils import StartupError
from datasette.version import __version__ as datasette_version

from . import audit, clock, hookspecs, jobs, replication
from . import secrets as stored_secrets
from .database import (
    InternalDatabaseLocked,
    acquire_server_lock,
    enable_wal,
    get_internal_db,
    is_persistent,
    mark_prepared,
    tune_write_connection,
)
from .errors import InvalidInput
from .migrations import CORE_SET, MigrationFailed, apply_migration_sets, migrations
from .safety import UnsafeDatabase, check_internal_file, check_served_databases
from .settings import RuntimeSettings, Setting
from .settings import registry as settings_registry

log = logging.getLogger("datasette_internal_db")

core_settings = RuntimeSettings(
    CORE_SET,
    [
        Setting(
            "audit_retention_days",
            int,
            365,
            "Audit entries older than this are deleted.",
            minimum=1,
            maximum=36_500,
        )
    ],
)


def config(datasette):
    return datasette.plugin_config(CORE_SET) or {}


def flag(value):
    return value is True or str(value).lower() in ("true", "1", "yes")


def plugin_manager():
    """Datasette's plugin manager, with core's hook specification added on first use.

    Imported at call time: importing datasette.plugins loads every installed plugin's entry
    point, so doing it while this package is imported would register a plugin that imported
    this package before its own hook functions exist.
    """
    from datasette.plugins import pm

    caller = getattr(pm.hook, "register_internal_migrations", None)
    if caller is None or caller.spec is None:
        pm.add_hookspecs(hookspecs)
    return pm


def migration_sets(datasette):
    """Core's set first, then every set plugins hand over through the hook."""
    pm = plugin_manager()
    sets = [migrations]
    for result in pm.hook.register_internal_migrations(datasette=datasette):
        if result is None:
            continue
        sets.extend(result if isinstance(result, (list, tuple)) else [result])
    return sets


def run_safety_checks(datasette, sets):
    internal = get_internal_db(datasette)
    internal_path = internal.path if is_persistent(datasette) else None
    try:
        check_served_databases(datasette, internal_path)
        if internal_path:
            check_internal_file(internal_path, sets)
    except UnsafeDatabase as error:
        if not flag(config(datasette).get("unsafe_allow_internal")):
            raise StartupError(str(error)) from None
        log.warning(
            "\n!!! UNSAFE: unsafe_allow_internal is set, so this check is overridden:\n%s\n"
            "!!! Anyone who can read that database can read Datasette's private state.",
            error,
        )


def check_persistence(datasette, sets):
    plugin_sets = [s.name for s in sets if s.name != CORE_SET]
    if is_persistent(datasette) or not plugin_sets:
        return
    message = (
        f"Plugins keep state in the internal database ({', '.join(plugin_sets)}), but no "
        "--internal file was given: that state is lost when Datasette exits. "
        "Start with: datasette serve ... --internal internal.db"
    )
    if flag(config(datasette).get("require_persistent")):
        raise StartupError(message + " (require_persistent is set)")
    log.warning("WARNING: %s", message)


@functools.cache
def core_version():
    return version(CORE_SET)


def write_marker(conn, key_check=None):
    conn.execute(
        "insert or ignore into _datasette_internal (id, created_at, datasette_version,"
        " core_version, instance_id, key_check) values (1, ?, ?, ?, ?, ?)",
        [clock.iso(), datasette_version, core_version(), random.token_hex(16), key_check],
    )


async def prepare_internal_db(datasette):
    """Everything core does before Datasette writes its own internal tables."""
    sets = migration_sets(datasette)
    run_safety_checks(datasette, sets)
    for runtime_settings in settings_registry.values():
        try:
            runtime_settings.check_configured(datasette)
        except InvalidInput as error:
            raise StartupError(str(error)) from None
    check_persistence(datasette, sets)
    # Restore a missing file, or refuse a stale one, before anything opens it.
    replicated = await replication.prepare(datasette)
    internal = get_internal_db(datasette)
    if is_persistent(datasette):
        try:
            acquire_server_lock(datasette, internal.path)
        except InternalDatabaseLocked as error:
            raise StartupError(str(error)) from None
        enable_wal(internal.path)
        await internal.execute_write_fn(tune_write_connection, transaction=False)

    def migrate(conn):
        if not is_persistent(datasette):
            # Datasette's temporary internal DB is deleted at exit, so its writes need no
            # fsync: a fresh Datasette (every test's) starts about as fast as without plugins.
            conn.execute("pragma synchronous=off")
        applied = apply_migration_sets(conn, sets)
        fresh = f"{CORE_SET}:m001_marker" in applied
        with conn:
            write_marker(conn, stored_secrets.new_key_check(datasette) if fresh else None)
        return applied, fresh

    try:
        applied, fresh = await internal.execute_write_fn(migrate, transaction=False)
    except MigrationFailed as error:
        raise StartupError(str(error)) from None
    if is_persistent(datasette):
        # Warning level: Datasette configures no logging, and Python shows warnings by default.
        journal_mode = (await internal.execute("pragma journal_mode")).single_value()
        log.warning(
            "Internal database: %s (journal %s); migration steps applied now: %s",
            internal.path,
            journal_mode,
            ", ".join(applied) or "none (up to date)",
        )
    # A fresh DB has no jobs, secrets or audit entries yet; its key check went in with the marker.
    if not fresh:
        interrupted = await jobs.mark_interrupted(datasette)
        if interrupted:
            log.warning(
                "%d job(s) were running when Datasette last stopped: marked interrupted",
                interrupted,
            )
        problem = await stored_secrets.check_keys(datasette)
        if problem:
            log.warning("WARNING: %s", problem)
        await audit.prune(datasette, await core_settings.get(datasette, "audit_retention_days"))
    if replicated is not None:
        await replication.start_replication(datasette, replicated)
    mark_prepared(datasette)
