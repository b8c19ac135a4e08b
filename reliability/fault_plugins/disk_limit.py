"""A plugins-dir plugin that simulates a full disk for the internal DB.

``POST /-/reliability/max-pages {"extra_pages": N}`` (root only) sets SQLite's max_page_count on
the internal DB's write connection to its current size plus N pages, so the next writes that
need more space fail with SQLITE_FULL, exactly as on a full disk. ``{"extra_pages": null}``
lifts the limit again.
"""

import json

from datasette import hookimpl
from datasette.utils.asgi import Response

NO_LIMIT = 1_073_741_823


def set_limit(conn, extra_pages):
    pages = conn.execute("pragma page_count").fetchone()[0]
    limit = NO_LIMIT if extra_pages is None else pages + extra_pages
    return conn.execute(f"pragma max_page_count = {int(limit)}").fetchone()[0]


async def max_pages(datasette, request):
    if (request.actor or {}).get("id") != "root" or request.method != "POST":
        return Response.json({"ok": False}, status=403)
    extra_pages = json.loads(await request.post_body())["extra_pages"]
    limit = await datasette.get_internal_database().execute_write_fn(
        lambda conn: set_limit(conn, extra_pages), transaction=False
    )
    return Response.json({"ok": True, "max_page_count": limit})


@hookimpl
def register_routes():
    return [(r"^/-/reliability/max-pages$", max_pages)]
