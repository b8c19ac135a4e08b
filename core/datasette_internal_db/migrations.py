"""Core's own schema, and applying every registered migration set to the internal DB."""

import datetime
import sqlite3

from sqlite_utils import Database, Migrations

try:
    # Datasette's own set, not a public API: without it Datasette applies it alone, as before.
    from datasette.utils.internal_db import internal_migrations as datasette_migrations
except ImportError:
    datasette_migrations = None

CORE_SET = "datasette-internal-db"

migrations = Migrations(CORE_SET)


@migrations()
def m001_marker(db):
    db.execute(
        """
        create table _datasette_internal (
            id integer primary key check (id = 1),
            created_at text not null,
            datasette_version text not null,
            core_version text not null,
            instance_id text not null,
            key_check text
        )
        """
    )


@migrations()
def m002_settings(db):
    db["_datasette_internal_settings"].create(
        {"plugin": str, "key": str, "value": str, "updated_by": str, "updated_at": str},
        pk=("plugin", "key"),
        not_null={"plugin", "key", "value", "updated_at"},
    )
    db["_datasette_internal_settings_history"].create(
        {"id": int, "plugin": str, "key": str, "value": str, "changed_by": str, "changed_at": str},
        pk="id",
        not_null={"plugin", "key", "changed_at"},
    )
    db["_datasette_internal_settings_history"].create_index(["plugin", "key"])


@migrations()
def m003_cache(db):
    db["_datasette_internal_cache"].create(
        {"namespace": str, "key": str, "value": str, "expires_at": float, "stored_at": float},
        pk=("namespace", "key"),
        not_null={"namespace", "key", "value", "stored_at"},
    )
    db["_datasette_internal_cache"].create_index(["expires_at"])
    db["_datasette_internal_cache"].create_index(["namespace", "stored_at"])


@migrations()
def m004_audit(db):
    db["_datasette_internal_audit"].create(
        {
            "id": int,
            "created_at": str,
            "plugin": str,
            "action": str,
            "actor_id": str,
            "resource": str,
            "details": str,
        },
        pk="id",
        not_null={"created_at", "plugin", "action"},
    )
    db["_datasette_internal_audit"].create_index(["created_at"])
    db["_datasette_internal_audit"].create_index(["plugin", "action"])
    db["_datasette_internal_audit"].create_index(["actor_id"])


@migrations()
def m005_jobs(db):
    db["_datasette_internal_jobs"].create(
        {
            "id": str,
            "plugin": str,
            "kind": str,
            "status": str,
            "done": int,
            "total": int,
            "errors": str,
            "error_count": int,
            "actor_id": str,
            "cancel_requested": int,
            "created_at": str,
            "updated_at": str,
            "finished_at": str,
        },
        pk="id",
        not_null={"plugin", "kind", "status", "created_at", "updated_at"},
        defaults={"done": 0, "errors": "[]", "error_count": 0, "cancel_requested": 0},
    )
    db["_datasette_internal_jobs"].create_index(["status"])


@migrations()
def m006_secrets(db):
    db["_datasette_internal_secrets"].create(
        {"plugin": str, "name": str, "ciphertext": str, "created_at": str, "updated_at": str},
        pk=("plugin", "name"),
        not_null={"plugin", "name", "ciphertext", "created_at", "updated_at"},
    )


@migrations()
def m007_job_results(db):
    db["_datasette_internal_jobs"].add_column("result", str)
    db["_datasette_internal_jobs"].create_index(["actor_id", "created_at"])


@migrations()
def m008_writers(db):
    # One row per start as the replicated writer: the stale-primary check compares the
    # replica's newest row with this file's rows (stale_primary.py).
    db["_datasette_internal_writers"].create(
        {"epoch": str, "started_at": str, "host": str, "pid": int},
        pk="epoch",
        not_null={"epoch", "started_at"},
    )


class MigrationFailed(Exception):
    def __init__(self, set_name, step, error):
        self.set_name = set_name
        self.step = step
        self.error = error
        super().__init__(
            f"Migration {set_name!r} step {step!r} failed: {error.__class__.__name__}: {error}. "
            "The step was rolled back; the internal database is unchanged by it."
        )


def table_prefix(set_name):
    """The table prefix a migration set owns.

    ``datasette-internal-comments`` owns tables named ``datasette_internal_comments_*``.
    """
    return set_name.replace("-", "_") + "_"


# Serialized images of a fresh internal DB after every step of some sets, built step by step the
# first time a process migrates an empty DB with exactly those steps. Later fresh DBs (every test's
# Datasette, and each Datasette(memory=True)) get the image copied in: 17+ steps, each with its
# own transaction and sqlite-utils introspection, were most of a fresh start's cost. So a step
# must make the same DB every time (no random or time-dependent rows): a copy repeats it.
# Python 3.10's sqlite3 cannot serialize: there every fresh DB is migrated step by step.
CAN_COPY_IMAGES = hasattr(sqlite3.Connection, "serialize")
fresh_images = {}
MAX_IMAGES = 8


def apply_migration_sets(conn, migration_sets):
    """Apply each set in order, each step in its own transaction. Runs in the write thread.

    Returns the steps applied now, as ``set:step`` names.
    """
    db = Database(conn, execute_plugins=False)
    fresh = not conn.execute("select 1 from sqlite_master limit 1").fetchone()
    if fresh and datasette_migrations is not None:
        # Datasette applies its own set (catalog, metadata, queries tables) right after the hook
        # this runs in. On a fresh DB it comes last here instead, the order it would have had,
        # so a copied image holds it too and Datasette then finds nothing pending: its step
        # costs ~20 ms of CPU (sqlite-utils 4.2's executescript splits statements by re-joining
        # every line so far), most of a fresh Datasette(memory=True) start.
        migration_sets = [*migration_sets, datasette_migrations]
    fresh_key = None
    if CAN_COPY_IMAGES and fresh:
        fresh_key = tuple(
            (migration_set.name, tuple((step.name, step.fn) for step in migration_set.pending(db)))
            for migration_set in migration_sets
        )
        if fresh_key in fresh_images:
            return copy_fresh_image(conn, fresh_images[fresh_key], fresh_key)
    applied = []
    for migration_set in migration_sets:
        pending = [step.name for step in migration_set.pending(db)]
        try:
            migration_set.apply(db)
        except Exception as error:
            still_pending = migration_set.pending(db)
            step = still_pending[0].name if still_pending else "?"
            raise MigrationFailed(migration_set.name, step, error) from error
        applied.extend(f"{migration_set.name}:{name}" for name in pending)
    if fresh_key is not None:
        if len(fresh_images) >= MAX_IMAGES:
            fresh_images.clear()
        image = bytearray(conn.serialize())
        # The header's file format bytes say WAL; an in-memory copy of it would not open.
        image[18:20] = b"\x01\x01"
        fresh_images[fresh_key] = bytes(image)
    return applied


def copy_fresh_image(conn, image, fresh_key):
    """The image's pages into the empty DB behind ``conn`` (one write; the DB keeps its journal
    mode, and other connections see the new schema), with the steps recorded as applied now."""
    source = sqlite3.connect(":memory:")
    try:
        source.deserialize(image)
        source.backup(conn)
    finally:
        source.close()
    with conn:
        conn.execute(
            f"update {Migrations.migrations_table} set applied_at = ?",
            [str(datetime.datetime.now(datetime.timezone.utc))],
        )
    return [f"{set_name}:{name}" for set_name, steps in fresh_key for name, _ in steps]


def migration_status(conn, migration_sets):
    """Applied and pending step names for each set (read only)."""
    db = Database(conn, execute_plugins=False)
    return [
        {
            "set": migration_set.name,
            "applied": [
                {"name": step.name, "applied_at": step.applied_at}
                for step in migration_set.applied(db)
            ],
            "pending": [step.name for step in migration_set.pending(db)],
        }
        for migration_set in migration_sets
    ]
