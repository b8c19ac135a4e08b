"""The migration steps, rewritten with the sqlite-utils API, give a fresh internal DB the schema
that files made by the raw-SQL steps of the same names have (schema_before_0_1.sql); the steps
after them change such files as they should."""

import sqlite3
from pathlib import Path

from datasette_internal_webhooks.migrations import migrations
from sqlite_utils import Database

OLD_SCHEMA = Path(__file__).parent / "schema_before_0_1.sql"
PREFIX = "datasette_internal_webhooks_"
FIRST_AFTER_0_1 = "m003_delivery_indexes_an_outcome_does_not_move"


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
    migrations.apply(Database(fresh), stop_before=FIRST_AFTER_0_1)
    assert [step.name for step in migrations.applied(Database(fresh))] == [
        "m001_outgoing",
        "m002_incoming",
    ]
    assert shape(fresh) == shape(old)
    assert len(shape(old)) == 7


# What recording an attempt's outcome updates in its delivery's row (store_deliveries).
UPDATED_BY_AN_OUTCOME = {
    "attempts",
    "status",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "updated_at",
}


def test_m003_keeps_every_delivery_and_indexes_status_only_in_partial_indexes():
    conn = sqlite3.connect(":memory:")
    db = Database(conn)
    migrations.apply(db, stop_before=FIRST_AFTER_0_1)
    conn.execute(
        f"insert into {PREFIX}messages (id, event_type, payload, created_at)"
        " values ('msg_1', 'insert-rows', '{}', 1)"
    )
    statuses = ["succeeded"] * 5 + ["pending"] * 2 + ["failed"]
    conn.executemany(
        f"insert into {PREFIX}deliveries (message_id, endpoint_id, status, next_attempt_at,"
        " created_at, updated_at) values ('msg_1', 'ep_1', ?, ?, 1, 1)",
        [(status, 5.0 if status == "pending" else None) for status in statuses],
    )
    before = conn.execute(f"select * from {PREFIX}deliveries order by id").fetchall()

    migrations.apply(db)

    assert conn.execute(f"select * from {PREFIX}deliveries order by id").fetchall() == before
    indexes = {
        name: (index_columns(conn, name), partial)
        for _, name, _, _, partial in conn.execute(f"pragma index_list([{PREFIX}deliveries])")
    }
    assert indexes == {
        f"{PREFIX}deliveries_endpoint": (("endpoint_id",), 0),
        f"{PREFIX}deliveries_message": (("message_id",), 0),
        f"{PREFIX}deliveries_pending": (("endpoint_id", "next_attempt_at"), 1),
        f"{PREFIX}deliveries_failed": (("endpoint_id", "created_at"), 1),
    }
    # An outcome moves a row out of the partial indexes (a delete) and into none: no index
    # over every row holds a column that it updates.
    for columns, partial in indexes.values():
        assert partial or not UPDATED_BY_AN_OUTCOME & set(columns)
