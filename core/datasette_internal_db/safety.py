"""Refuse to serve an internal database as user data, and to use user data as the internal DB."""

import os
import sqlite3

from .migrations import table_prefix

MARKER_TABLE = "_datasette_internal"
CORE_TABLE_PREFIX = "_datasette_internal"
# Datasette's own internal tables (1.0a41); catalog_databases + catalog_tables identify an
# internal DB made by Datasette alone or by an older alpha, before this plugin marked it.
DATASETTE_INTERNAL_TABLES = frozenset(
    {
        "catalog_databases",
        "catalog_tables",
        "catalog_views",
        "catalog_columns",
        "catalog_indexes",
        "catalog_foreign_keys",
        "metadata_instance",
        "metadata_databases",
        "metadata_resources",
        "metadata_columns",
        "column_types",
        "queries",
        "_sqlite_migrations",
    }
)
OVERRIDE = "-s plugins.datasette-internal-db.unsafe_allow_internal true"


class UnsafeDatabase(Exception):
    pass


def table_names(path, immutable=False):
    """Table names of a SQLite file, read without writing (``[]`` for a missing or empty file)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return []
    flag = "immutable=1" if immutable else "mode=ro"
    conn = sqlite3.connect(f"file:{path}?{flag}", uri=True)
    try:
        return [
            row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")
        ]
    finally:
        conn.close()


def internal_reason(names):
    """Why a file with these tables is an internal database, or None."""
    names = set(names)
    if MARKER_TABLE in names:
        return f"it holds the {MARKER_TABLE} marker table"
    if {"catalog_databases", "catalog_tables"} <= names:
        return "it holds Datasette's internal tables (catalog_databases, catalog_tables)"
    return None


def served_files(datasette):
    for database in datasette.databases.values():
        if database.path and not database.is_memory:
            yield database


def check_served_databases(datasette, internal_path):
    """Raise UnsafeDatabase naming each served file that is (or is) the internal DB."""
    problems = []
    for database in served_files(datasette):
        if (
            internal_path
            and os.path.exists(internal_path)
            and os.path.samefile(database.path, internal_path)
        ):
            reason = "it is the same file as --internal"
        else:
            reason = internal_reason(table_names(database.path, not database.is_mutable))
        if reason:
            problems.append(
                f"Refusing to serve {database.path} as a database: {reason}, so it holds "
                f"Datasette's private state. Pass it with --internal {database.path} instead, "
                f"not as a database to serve. To serve it anyway: {OVERRIDE}"
            )
    if problems:
        raise UnsafeDatabase("\n".join(problems))


def foreign_tables(names, migration_sets):
    """Tables that belong neither to Datasette, nor to core, nor to a registered migration set."""
    prefixes = [CORE_TABLE_PREFIX] + [table_prefix(s.name) for s in migration_sets]
    return sorted(
        name
        for name in names
        if name not in DATASETTE_INTERNAL_TABLES
        and not name.startswith("sqlite_")
        and not any(name.startswith(prefix) for prefix in prefixes)
    )


def check_internal_file(internal_path, migration_sets):
    """Raise UnsafeDatabase when --internal points at an existing user database."""
    names = table_names(internal_path)
    if internal_reason(names):
        return
    foreign = foreign_tables(names, migration_sets)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise UnsafeDatabase(
            f"Refusing to use {internal_path} as the internal database: it is a user database "
            f"(tables {shown}), and Datasette would add a dozen tables of its own to it. "
            "Pass a new or existing internal file to --internal instead. "
            f"To use it anyway: {OVERRIDE}"
        )
