"""A row of a user's table by its primary key, the way Datasette's row pages address it."""

from datasette.utils import detect_primary_keys, escape_sqlite, urlsafe_components


def pk_values_from_path(pk_path):
    """``"1,2"`` or tilde-encoded ``"a~2Cb"`` (the ``<pks>`` part of a row URL) as a list."""
    return urlsafe_components(pk_path)


# (id(conn), table) -> (conn, schema_version, primary keys or None for no such table).
_primary_keys = {}
PRIMARY_KEYS_KEPT = 256


def primary_keys(conn, table):
    """The table's primary-key columns (``[]`` for a rowid table), None if there is no such
    table or view. Kept per connection while the database's schema version is unchanged, so
    a row read asks SQLite one cheap pragma instead of two lookups of the schema."""
    version = conn.execute("pragma schema_version").fetchone()[0]
    key = (id(conn), table)
    kept = _primary_keys.get(key)
    # The connection itself is compared: an id can be reused once a connection is gone.
    if kept is not None and kept[0] is conn and kept[1] == version:
        return kept[2]
    exists = conn.execute(
        "select 1 from sqlite_master where type in ('table', 'view') and name = ?", [table]
    ).fetchone()
    pks = detect_primary_keys(conn, table) if exists else None
    if len(_primary_keys) >= PRIMARY_KEYS_KEPT:
        _primary_keys.clear()
    _primary_keys[key] = (conn, version, pks)
    return pks


def read_row(conn, table, pk_values):
    """``fetch_row`` on a connection of the database, for callers that choose where it runs."""
    pks = primary_keys(conn, table)
    if pks is None:
        return None, []
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
