"""What an internal database holds: marker, migration sets, tables (CLI and /-/internal)."""

import sqlite3

from .migrations import migration_status, table_prefix
from .safety import MARKER_TABLE

# Datasette's own migration set in _sqlite_migrations (its internal tables, not a plugin's).
DATASETTE_SET = "datasette_internal"


def table_sizes(conn):
    try:
        sizes = dict(conn.execute("select name, sum(pgsize) from dbstat group by name").fetchall())
    except sqlite3.OperationalError:  # SQLite built without dbstat
        sizes = {}
    names = [
        row[0]
        for row in conn.execute(
            "select name from sqlite_master where type = 'table' order by name"
        ).fetchall()
    ]
    return [
        {
            "name": name,
            "rows": conn.execute(f'select count(*) from "{name}"').fetchone()[0],
            "bytes": sizes.get(name),
        }
        for name in names
        if not name.startswith("sqlite_")
    ]


def marker(conn):
    exists = conn.execute(
        "select 1 from sqlite_master where type = 'table' and name = ?", [MARKER_TABLE]
    ).fetchone()
    if not exists:
        return None
    row = conn.execute(
        f"select created_at, datasette_version, core_version, instance_id from {MARKER_TABLE}"
    ).fetchone()
    if row is None:
        return None
    return dict(
        zip(("created_at", "datasette_version", "core_version", "instance_id"), row, strict=True)
    )


def owner(table, set_names):
    """The set whose prefix names ``table``, the longest prefix winning (a-b_c before a-b)."""
    owners = [name for name in set_names if table.startswith(table_prefix(name))]
    return max(owners, key=len, default=None)


def uninstalled_sets(conn, migration_sets, tables):
    """Migration sets recorded in the file whose plugin is not installed now, with their tables."""
    installed = {migration_set.name for migration_set in migration_sets} | {DATASETTE_SET}
    recorded = [
        row[0]
        for row in conn.execute(
            "select distinct migration_set from _sqlite_migrations order by migration_set"
        )
    ]
    known = installed | set(recorded)
    return [
        {
            "set": name,
            "tables": [t["name"] for t in tables if owner(t["name"], known) == name],
        }
        for name in recorded
        if name not in installed
    ]


def collect(conn, migration_sets):
    tables = table_sizes(conn)
    has_migrations = any(table["name"] == "_sqlite_migrations" for table in tables)
    return {
        "marker": marker(conn),
        "journal_mode": conn.execute("pragma journal_mode").fetchone()[0],
        "migrations": migration_status(conn, migration_sets),
        "uninstalled": uninstalled_sets(conn, migration_sets, tables) if has_migrations else [],
        "tables": tables,
    }


def render_text(path, status):
    lines = [f"Internal database: {path}"]
    found = status["marker"]
    if found:
        lines.append(
            f"Marker: instance {found['instance_id']}, created {found['created_at']}, "
            f"Datasette {found['datasette_version']}, core {found['core_version']}"
        )
    else:
        lines.append("Marker: none (not initialised by datasette-internal-db)")
    lines.append(f"Journal mode: {status['journal_mode']}")
    lines.append("Migration sets:")
    for entry in status["migrations"]:
        pending = ", ".join(entry["pending"]) or "none"
        lines.append(f"  {entry['set']}: {len(entry['applied'])} applied; pending: {pending}")
    for entry in status["uninstalled"]:
        tables = ", ".join(entry["tables"]) or "no tables"
        lines.append(
            f"  {entry['set']}: not installed; left behind: {tables}. "
            f"Drop with: datasette internal drop-set {path} {entry['set']}"
        )
    lines.append("Tables:")
    width = max([len(table["name"]) for table in status["tables"]] + [5])
    for table in status["tables"]:
        size = "?" if table["bytes"] is None else f"{table['bytes']:,} bytes"
        lines.append(f"  {table['name']:<{width}}  {table['rows']:>10,} rows  {size}")
    return "\n".join(lines)
