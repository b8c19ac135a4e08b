"""Routes the benchmarks measure against, loaded with ``--plugins-dir`` (not a package).

``/-/bench/redirect`` is the ceiling of Datasette's request stack for a redirect: no lookup, no
permission check, no write. ``/-/bench/writes`` times one-row ``execute_write`` calls on the
internal DB inside the server, so the figure is the write path alone, not HTTP; likewise
``/-/bench/comments-badge-query`` times the comments plugin's badge query alone, and the same
query on an in-memory baseline that does not grow with the data.

With ``BENCH_INSERT_EVENT_PROBE=1`` in its environment a server also notes, for each
``/-/insert`` request, when Datasette fired its ``insert-rows`` event (the first moment any plugin
can learn of the write) and when the response started, both counted from the request's arrival;
``/-/bench/insert-event-timings`` hands them over and forgets them.

With ``BENCH_WITHOUT_HOOKS=module.hook,...`` (bench/page_ab.py) those hook implementations of
installed plugins are taken out of the server before it starts, to time what each one costs.
"""

import contextvars
import functools
import os
import time

from datasette import Response, hookimpl
from datasette.plugins import pm

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


BASELINE_ROWS = 1000


@functools.cache
def badge_baseline_connection():
    """An in-memory database with the comments plugin's own tables (its migrations) and 2
    threads on each of BASELINE_ROWS rows: the badge query's baseline, the same query on data
    that does not grow with the bench's scale, timed in the same process and run."""
    import sqlite3

    import sqlite_utils
    from datasette_internal_comments.migrations import THREADS, migrations

    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.row_factory = sqlite3.Row
    migrations.apply(sqlite_utils.Database(conn))
    with conn:
        conn.executemany(
            f"insert into {THREADS} (target_type, database_name, table_name, column_name,"
            " row_key, row_pks, row_label, author_id, created_at, last_activity_at)"
            " values (?, 'data', 'items', ?, ?, '[]', '', 'bench', '', '')",
            [
                ("cell" if column else "row", column, str(row))
                for row in range(1, BASELINE_ROWS + 1)
                for column in ("", "value")
            ],
        )
    return conn


async def comments_badge_query(request, datasette):
    """Milliseconds of each badge count query (as ``store.badge_counts`` reads it) for pages of
    100 consecutive rows, and of the same query on the in-memory baseline (one after each)."""
    from datasette_internal_comments import store
    from datasette_internal_db import read_on_loop

    repeat = int(request.args.get("repeat", "50"))
    rows = int(request.args.get("rows", "100"))
    first = int(request.args.get("first", "1"))
    last = int(request.args.get("last", "100000"))
    baseline = badge_baseline_connection()
    timings, baseline_timings = [], []
    for i in range(repeat):
        start = first + (i * 997) % max(1, last - first - rows)
        keys = [str(row) for row in range(start, start + rows)]
        started = time.perf_counter()
        # The query itself, not badge_counts (whose kept answers would serve later rounds).
        counts = await read_on_loop(
            datasette, lambda conn, keys=keys: store.read_badge_counts(conn, "data", "items", keys)
        )
        timings.append(1000 * (time.perf_counter() - started))
        if len(counts) != rows:
            return Response.json({"error": f"{len(counts)} rows have badges, not {rows}"}, 500)
        start = 1 + (i * 997) % (BASELINE_ROWS - rows)
        keys = [str(row) for row in range(start, start + rows)]
        started = time.perf_counter()
        counts = store.read_badge_counts(baseline, "data", "items", keys)
        baseline_timings.append(1000 * (time.perf_counter() - started))
        if len(counts) != rows:
            return Response.json({"error": f"baseline: {len(counts)} rows, not {rows}"}, 500)
    return Response.json({"ms": timings, "baseline_ms": baseline_timings})


def remove_hooks(spec):
    """Take each ``module.hook`` of ``spec`` out of Datasette's plugin manager. Installed plugins
    are registered before a plugins directory is loaded, so this runs before any hook is called.
    pluggy has no public call for one hook of a plugin: this uses ``HookCaller._remove_plugin``."""
    plugins = {getattr(plugin, "__name__", None): plugin for plugin in pm.get_plugins()}
    for item in filter(None, spec.split(",")):
        module, _, hook = item.rpartition(".")
        if module not in plugins or not hasattr(pm.hook, hook):
            raise RuntimeError(f"BENCH_WITHOUT_HOOKS: no plugin {module!r} or hook {hook!r}")
        try:
            getattr(pm.hook, hook)._remove_plugin(plugins[module])
        except ValueError:
            raise RuntimeError(f"BENCH_WITHOUT_HOOKS: {module} has no {hook} hook") from None


remove_hooks(os.environ.get("BENCH_WITHOUT_HOOKS", ""))

PROBE_INSERT_EVENT = os.environ.get("BENCH_INSERT_EVENT_PROBE") == "1"
insert_arrival = contextvars.ContextVar("insert_arrival", default=None)
insert_timings = {"event_ms": [], "response_ms": []}


def probe_inserts(app):
    async def probed(scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/-/insert"):
            return await app(scope, receive, send)
        arrival = time.perf_counter()
        insert_arrival.set(arrival)

        async def timed_send(message):
            if message["type"] == "http.response.start":
                insert_timings["response_ms"].append(1000 * (time.perf_counter() - arrival))
            await send(message)

        await app(scope, receive, timed_send)

    return probed


async def insert_event_timings():
    timings = {name: list(values) for name, values in insert_timings.items()}
    for values in insert_timings.values():
        values.clear()
    return Response.json(timings)


@hookimpl
def asgi_wrapper():
    return probe_inserts if PROBE_INSERT_EVENT else None


@hookimpl
def track_event(event):
    arrival = insert_arrival.get()
    if arrival is not None and event.name == "insert-rows":
        insert_timings["event_ms"].append(1000 * (time.perf_counter() - arrival))


@hookimpl
def register_routes():
    return [
        (r"^/-/bench/redirect$", fixed_redirect),
        (r"^/-/bench/writes$", internal_writes),
        (r"^/-/bench/comments-badge-query$", comments_badge_query),
        (r"^/-/bench/insert-event-timings$", insert_event_timings),
    ]


@hookimpl
def comments_actor_emails(datasette, actor_ids):
    # Addresses for the comments email figure (delivered to the bench's SMTP sink).
    return {actor_id: f"{actor_id}@bench.example" for actor_id in actor_ids}
