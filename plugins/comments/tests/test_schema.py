"""The migration steps, now written with the sqlite-utils API, make the schema the shipped SQL
made: the same tables, columns, types, defaults, keys and indexes, so files made by either
version are read and upgraded alike."""

import sqlite3
from pathlib import Path

from datasette_internal_comments.migrations import migrations
from datasette_internal_db.testing import start_without_core
from sqlite_utils import Database

SHIPPED_SQL = Path(__file__).parent / "schema_m001_m002.sql"
PREFIX = "datasette_internal_comments_"


def described(conn):
    tables = [
        name
        for (name,) in conn.execute(
            "select name from sqlite_master where type = 'table' and name like ? order by name",
            [PREFIX + "%"],
        )
    ]
    schema = {}
    for table in tables:
        columns = [
            (name, kind.upper(), notnull, default, pk)
            for _, name, kind, notnull, default, pk, _ in conn.execute(
                f"pragma table_xinfo([{table}])"
            )
        ]
        foreign_keys = sorted(
            (row[3], row[2], row[4]) for row in conn.execute(f"pragma foreign_key_list([{table}])")
        )
        indexes = sorted(
            (
                tuple(row[2] for row in conn.execute(f"pragma index_info([{name}])")),
                bool(unique),
            )
            for _, name, unique, origin, _ in conn.execute(f"pragma index_list([{table}])")
            if origin != "pk"
        )
        schema[table] = (columns, foreign_keys, indexes)
    triggers = {
        name for (name,) in conn.execute("select name from sqlite_master where type = 'trigger'")
    }
    return schema, triggers


def test_the_api_steps_make_the_schema_the_shipped_sql_made(tmp_path):
    shipped = sqlite3.connect(tmp_path / "shipped.db")
    shipped.executescript(SHIPPED_SQL.read_text())
    rewritten = Database(tmp_path / "rewritten.db")
    migrations.apply(rewritten, stop_before="m003_stored_html")
    shipped_schema, shipped_triggers = described(shipped)
    rewritten_schema, rewritten_triggers = described(rewritten.conn)
    assert rewritten_schema == shipped_schema
    assert rewritten_triggers == shipped_triggers
    assert len(shipped_schema) > 7


def test_loaded_without_core_it_stops_at_startup_naming_core(tmp_path):
    code, errors = start_without_core("datasette-internal-comments", tmp_path)
    assert code == 1
    assert "datasette-internal-comments keeps its state in the internal database" in errors
