"""The migration steps, rewritten with the sqlite-utils API, give a fresh internal DB the schema
that files made by the raw-SQL steps of the same names have (schema_before_0_1.sql)."""

import sqlite3
from pathlib import Path

from datasette_internal_webhooks.migrations import migrations
from sqlite_utils import Database

OLD_SCHEMA = Path(__file__).parent / "schema_before_0_1.sql"
PREFIX = "datasette_internal_webhooks_"


def index_columns(conn, index):
    return tuple(row[2] for row in conn.execute(f"pragma index_info([{index}])"))


def shape(conn):
    """Everything about the plugin's tables that behaviour can depend on, and nothing about
    how the SQL was spelled: columns, keys, indexes (by their columns) and CHECK constraints."""
    db = Database(conn)
    tables = {}
    for table in db.tables:
        if not table.name.startswith(PREFIX):
            continue
        columns = [
            (name, kind.upper(), notnull, default, pk)
            for _, name, kind, notnull, default, pk in conn.execute(
                f"pragma table_info([{table.name}])"
            )
        ]
        foreign_keys = sorted(
            (fk.column, fk.other_table, fk.other_column) for fk in table.foreign_keys
        )
        indexes = sorted(
            (index_columns(conn, name), unique, partial)
            for _, name, unique, origin, partial in conn.execute(
                f"pragma index_list([{table.name}])"
            )
            if origin != "pk"
        )
        checks = sorted((check.column, " ".join(check.check.split())) for check in table.checks)
        tables[table.name] = (columns, foreign_keys, indexes, checks)
    return tables


def test_a_fresh_file_has_the_schema_older_files_have():
    old = sqlite3.connect(":memory:")
    old.executescript(OLD_SCHEMA.read_text())
    fresh = sqlite3.connect(":memory:")
    migrations.apply(Database(fresh))
    assert [step.name for step in migrations.applied(Database(fresh))] == [
        "m001_outgoing",
        "m002_incoming",
    ]
    assert shape(fresh) == shape(old)
    assert len(shape(old)) == 7
