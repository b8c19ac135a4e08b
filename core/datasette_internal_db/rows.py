"""A row of a user's table by its primary key, the way Datasette's row pages address it."""

from datasette.utils import detect_primary_keys, escape_sqlite, urlsafe_components


def pk_values_from_path(pk_path):
    """``"1,2"`` or tilde-encoded ``"a~2Cb"`` (the ``<pks>`` part of a row URL) as a list."""
    return urlsafe_components(pk_path)


def read_row(conn, table, pk_values):
    """``fetch_row`` on a connection of the database, for callers that choose where it runs."""
    exists = conn.execute(
        "select 1 from sqlite_master where type in ('table', 'view') and name = ?", [table]
    ).fetchone()
    if not exists:
        return None, []
    pks = detect_primary_keys(conn, table)
    pk_columns = pks or ["rowid"]
    if len(pk_values) != len(pk_columns):
        return None, pk_columns
    where = " and ".join(f"{escape_sqlite(column)} = ?" for column in pk_columns)
    select = "*" if pks else "rowid, *"
    row = conn.execute(
        f"select {select} from {escape_sqlite(table)} where {where} limit 1", list(pk_values)
    ).fetchone()
    return (dict(row) if row is not None else None), pk_columns


async def fetch_row(db, table, pk_values):
    """``(row, pk_columns)`` for primary-key values, ``(None, pk_columns)`` when there is no
    such row, ``(None, [])`` when there is no such table. Tables without a primary key are
    addressed by rowid, as Datasette does. One trip to the database's read thread.
    """
    return await db.execute_fn(lambda conn: read_row(conn, table, pk_values))
