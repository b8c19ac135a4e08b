"""Routes the benchmarks measure against, loaded with ``--plugins-dir`` (not a package).

``/-/bench/redirect`` is the ceiling of Datasette's request stack for a redirect: no lookup, no
permission check, no write. ``/-/bench/writes`` times one-row ``execute_write`` calls on the
internal DB inside the server, so the figure is the write path alone, not HTTP.
"""

import time

from datasette import Response, hookimpl

WRITES_TABLE = "datasette_internal_bench_writes"


async def fixed_redirect():
    return Response.redirect("/")


async def internal_writes(request, datasette):
    count = int(request.args.get("n", "100"))
    internal = datasette.get_internal_database()
    await internal.execute_write(
        f"create table if not exists {WRITES_TABLE} (id integer primary key, value text)"
    )
    started = time.perf_counter()
    for i in range(count):
        await internal.execute_write(f"insert into {WRITES_TABLE} (value) values (?)", [f"row {i}"])
    seconds = time.perf_counter() - started
    journal_mode = (await internal.execute("pragma journal_mode")).first()[0]
    synchronous = await internal.execute_write_fn(
        lambda conn: conn.execute("pragma synchronous").fetchone()[0], transaction=False
    )
    return Response.json(
        {
            "writes": count,
            "seconds": seconds,
            "journal_mode": journal_mode,
            "synchronous": synchronous,
        }
    )


@hookimpl
def register_routes():
    return [
        (r"^/-/bench/redirect$", fixed_redirect),
        (r"^/-/bench/writes$", internal_writes),
    ]
