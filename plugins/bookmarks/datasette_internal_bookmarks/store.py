"""What Datasette's own tables say about a target: the resource a path shows, and whether it
still exists. Read only; the plugin's own tables are in store_bookmarks.py and store_links.py."""

from datasette.utils import urlsafe_components
from datasette_internal_db import fetch_row, get_internal_db

from .targets import Target


async def resolve_target(datasette, target):
    """Turn the router's reading of a path into names the permission system knows.

    The database segment is a route, which may differ from the database name; a second segment
    is a stored query when the ``queries`` table says so, otherwise a table.
    """
    if target.database is None:
        return target
    try:
        database = datasette.get_database(route=target.database).name
    except KeyError:
        database = target.database
    kind = target.kind
    if kind == "table":
        row = (
            await get_internal_db(datasette).execute(
                "select 1 from queries where database_name = ? and name = ?",
                [database, target.name],
            )
        ).first()
        if row is not None:
            kind = "query"
    return Target(kind, database, target.name, target.row)


async def missing_part(datasette, target):
    """Why a bookmarked target no longer exists (None when it does), from the catalog."""
    if target.database is None:
        return None
    internal = get_internal_db(datasette)
    found = (
        await internal.execute(
            "select 1 from catalog_databases where database_name = ?", [target.database]
        )
    ).first()
    if found is None:
        return f"database {target.database} no longer exists"
    if target.kind == "query":
        found = (
            await internal.execute(
                "select 1 from queries where database_name = ? and name = ?",
                [target.database, target.name],
            )
        ).first()
        return None if found else f"stored query {target.name} no longer exists"
    if target.kind not in ("table", "row"):
        return None
    found = (
        await internal.execute(
            "select 1 from catalog_tables where database_name = ? and table_name = ?"
            " union all select 1 from catalog_views where database_name = ? and view_name = ?",
            [target.database, target.name, target.database, target.name],
        )
    ).first()
    if found is None:
        return f"table {target.name} no longer exists"
    if target.kind == "row":
        database = datasette.get_database(target.database)
        row, _ = await fetch_row(database, target.name, urlsafe_components(target.row))
        if row is None:
            return f"row {target.row} no longer exists in {target.name}"
    return None
