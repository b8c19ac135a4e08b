"""What a thread is about: a new thread's target checked against the user's database, and the
state of a row or cell target now (current, outdated or row-deleted)."""

import json

from datasette.utils import urlsafe_components
from datasette.utils.asgi import Forbidden, NotFound
from datasette_internal_db import InvalidInput
from datasette_internal_db.web import MAX_SQLITE_INTEGER

from . import access, store
from .access import ADD, VIEW
from .settings import comments_enabled

# One message whether a target is missing or hidden from this actor, so that neither the answer
# nor its wording tells whether a private database or table exists.
NOT_VISIBLE = "Not found, or you may not see comments here"
NOT_ENABLED = "Comments are not enabled here"


async def check(datasette, actor, action, database, table="", recent=False):
    """NotFound when the actor may not see the target at all, Forbidden without ``action``;
    else the verdicts (``{action: bool}`` for every comment action) it was decided by.

    ``recent``: read paths may take verdicts answered within the last second (access.py).
    """
    if recent:
        allowed = await access.recent_verdicts(datasette, actor, database, table)
    else:
        allowed = await access.verdicts(datasette, actor, database, table)
    if not allowed[VIEW]:
        raise NotFound(NOT_VISIBLE)
    if not allowed[action]:
        raise Forbidden(f"Permission denied: {action} is required")
    return allowed


async def require_table(datasette, database, table):
    """NotFound for a table that does not exist, with the answer a target the actor may not see
    gets, so a hidden table cannot be told from a missing one. The name must match exactly, as
    Datasette's permission rules do (``SECRET`` must not reveal a hidden ``secret``). Reads ask
    only when they found nothing (threads on a table show it existed): no query otherwise."""
    if table not in await store.table_names(datasette, database):
        raise NotFound(NOT_VISIBLE)


def optional_str(data, key):
    value = data.get(key)
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a string")
    return value


def is_key_value(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_SQLITE_INTEGER
    return isinstance(value, (str, float))


def decode_row(row):
    """Primary-key values from a list, or from a row path as in Datasette's row URLs."""
    if isinstance(row, str):
        return urlsafe_components(row)
    if isinstance(row, list) and row and all(is_key_value(value) for value in row):
        return row
    raise InvalidInput("'row' must be a row path string or a non-empty list of primary key values")


async def resolve_target(datasette, actor, data):
    """The target a new thread goes on, checked for existence and for ``comments-add``."""
    database = optional_str(data, "database")
    table = optional_str(data, "table")
    column = optional_str(data, "column")
    row = data.get("row")
    if row == "":
        row = None
    if not database:
        raise InvalidInput("'database' is required")
    if (column or row is not None) and not table:
        raise InvalidInput("'column' and 'row' need a 'table'")
    pk_values = decode_row(row) if row is not None else None
    if database not in datasette.databases:
        raise NotFound(NOT_VISIBLE)
    if table:
        matches = [
            name
            for name in await store.table_names(datasette, database)
            if name.lower() == table.lower()
        ]
        if not matches:
            raise NotFound(NOT_VISIBLE)
        table = matches[0]
    await check(datasette, actor, ADD, database, table)
    target = {
        "type": "table" if table else "database",
        "database": database,
        "table": table,
        "column": column,
        "row_key": "",
        "row_pks": None,
        "row_label": None,
        "anchor_value": None,
    }
    if column:
        if column not in await store.column_names(datasette, database, table):
            raise NotFound(f"Column {column!r} not found")
        target["type"] = "column"
    if pk_values is not None:
        found, pk_columns = await store.fetch_row(datasette, database, table, pk_values)
        if found is None:
            raise NotFound("Row not found")
        values = [found[name] for name in pk_columns]
        target.update(
            type="cell" if column else "row",
            row_key=store.row_key_for(values),
            row_pks=json.dumps(values),
            row_label=await row_label(datasette, database, table, found),
            anchor_value=store.encode_cell(found[column]) if column else None,
        )
    if not await comments_enabled(datasette, database, table):
        raise Forbidden(NOT_ENABLED)
    return target


async def row_label(datasette, database, table, found):
    name = await store.label_column(datasette, database, table)
    if name and found.get(name) is not None:
        return str(found[name])[:200]
    return None


async def current_row(datasette, database, table, row_pks):
    """The row as it is now, or None when it (or its table, or its database) is gone."""
    if database not in datasette.databases:
        return None
    found, _ = await store.fetch_row(datasette, database, table, json.loads(row_pks))
    return found


async def rows_now(datasette, database, table, row_key):
    """``{(database, table, row_key): row or None}`` for the row at a row path (the values
    Datasette's row page looks it up by), as ``anchor_states`` takes them: read while the
    row's threads are read instead of after them. Empty without a row."""
    if not (table and row_key):
        return {}
    found = None
    if database in datasette.databases:
        pk_values = urlsafe_components(row_key)
        found, _ = await store.fetch_row(datasette, database, table, pk_values)
    return {(database, table, row_key): found}


async def anchor_states(datasette, threads, rows=None):
    """{thread_id: anchor} for row and cell threads: current, outdated or row-deleted.
    ``rows``: rows already read, as ``rows_now`` gives them."""
    rows = dict(rows or {})
    states = {}
    for thread in threads:
        if not thread["row_key"]:
            continue
        key = (thread["database_name"], thread["table_name"], thread["row_key"])
        if key not in rows:
            rows[key] = await current_row(
                datasette, thread["database_name"], thread["table_name"], thread["row_pks"]
            )
        found = rows[key]
        anchor = {"state": "current", "old_value": None, "current_value": None}
        if thread["target_type"] == "cell":
            anchor["old_value"] = json.loads(thread["anchor_value"])
        if found is None:
            anchor["state"] = "row-deleted"
        elif thread["target_type"] == "cell":
            if thread["column_name"] not in found:
                anchor["state"] = "outdated"
            else:
                current = store.encode_cell(found[thread["column_name"]])
                anchor["current_value"] = json.loads(current)
                if current != thread["anchor_value"]:
                    anchor["state"] = "outdated"
        states[thread["thread_id"]] = anchor
    return states
