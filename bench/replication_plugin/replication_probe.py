"""Routes the replication benchmark writes and reads through (loaded with ``--plugins-dir``).

A table of its own in the internal DB (migration set ``replication-probe``), so a primary and a
read node see the same rows: ``POST /-/probe/write`` inserts one row and answers once it is
committed; ``GET /-/probe/max`` answers the newest row id this node can read.
"""

from datasette import Response, hookimpl
from datasette_internal_db import get_internal_db
from sqlite_utils import Migrations

TABLE = "replication_probe_rows"
migrations = Migrations("replication-probe")


@migrations()
def m001_rows(db):
    db[TABLE].create({"id": int, "payload": str}, pk="id")


@hookimpl
def register_internal_migrations(datasette):
    return migrations


async def write(request, datasette):
    row = request.args.get("id")
    result = await get_internal_db(datasette).execute_write(
        f"insert into {TABLE} (id, payload) values (?, ?)", [row, "x" * 100]
    )
    return Response.json({"id": result.lastrowid})


async def newest(datasette):
    rows = await get_internal_db(datasette).execute(f"select max(id) from {TABLE}")
    return Response.json({"max": rows.first()[0] or 0})


@hookimpl
def register_routes():
    return [(r"^/-/probe/write$", write), (r"^/-/probe/max$", newest)]
