"""Every SQL statement of the plugin: bookmarks, tags, full-text search, short links, visits."""

import json
import sqlite3

from datasette.utils import row_sql_params_pks, urlsafe_components
from datasette_internal_db import InvalidInput, clock, get_internal_db
from datasette_internal_db.text import fts_query

from . import notes
from .migrations import BOOKMARKS, FTS, LINK_DAYS, LINKS, TAG_COUNTS, TAGS
from .targets import Target

# Bookmark ids are below this: a listing without a cursor starts here.
NO_CURSOR = 2**62

# ---------------------------------------------------------------- resources and the catalog


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
    if target.kind == "row" and not await row_exists(datasette, target):
        return f"row {target.row} no longer exists in {target.name}"
    return None


async def row_exists(datasette, target):
    db = datasette.get_database(target.database)
    pk_values = urlsafe_components(target.row)
    sql, params, pks = await row_sql_params_pks(db, target.name, pk_values)
    if len(pks) != len(pk_values):
        return False
    return (await db.execute(sql, params)).first() is not None


# ---------------------------------------------------------------- bookmarks


def _bookmark(row):
    if row is None:
        return None
    bookmark = dict(row)
    bookmark["tags"] = json.loads(bookmark["tags"])
    bookmark["shared"] = bool(bookmark["shared"])
    return bookmark


def _save_bookmark(conn, owner_id, url, title, note, tags, shared, target, now):
    existing = conn.execute(
        f"select id from {BOOKMARKS} where owner_id = ? and url = ?", [owner_id, url]
    ).fetchone()
    values = [
        title,
        note,
        notes.render(note),
        json.dumps(tags),
        int(shared),
        target.kind,
        target.database,
        target.name,
        target.row,
    ]
    if existing:
        bookmark_id = existing[0]
        conn.execute(
            f"update {BOOKMARKS} set title = ?, note = ?, note_html = ?, tags = ?, shared = ?,"
            " resource_kind = ?, resource_database = ?, resource_name = ?, resource_row = ?,"
            " broken = null, updated_at = ? where id = ?",
            [*values, now, bookmark_id],
        )
    else:
        bookmark_id = conn.execute(
            f"insert into {BOOKMARKS} (title, note, note_html, tags, shared, resource_kind,"
            " resource_database, resource_name, resource_row, owner_id, url, created_at,"
            " updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*values, owner_id, url, now, now],
        ).lastrowid
    _set_tags(conn, bookmark_id, tags)
    return bookmark_id, existing is None


def _set_tags(conn, bookmark_id, tags):
    conn.execute(f"delete from {TAGS} where bookmark_id = ?", [bookmark_id])
    conn.executemany(
        f"insert into {TAGS} (bookmark_id, tag) values (?, ?)",
        [(bookmark_id, tag) for tag in tags],
    )


async def save_bookmark(datasette, owner_id, url, title, note, tags, shared, target):
    """Insert, or update the owner's bookmark of the same normalized URL. Returns (id, created)."""
    now = clock.iso()
    return await get_internal_db(datasette).execute_write_fn(
        lambda conn: _save_bookmark(conn, owner_id, url, title, note, tags, shared, target, now)
    )


async def save_bookmarks(datasette, owner_id, items):
    """Save many (each a dict of save_bookmark's arguments) in one transaction; returns the
    (id, url) of those that were new."""
    now = clock.iso()

    def write(conn):
        created = []
        for item in items:
            bookmark_id, new = _save_bookmark(conn, owner_id, now=now, **item)
            if new:
                created.append((bookmark_id, item["url"]))
        return created

    return await get_internal_db(datasette).execute_write_fn(write)


async def find_bookmark(datasette, owner_id, url):
    row = (
        await get_internal_db(datasette).execute(
            f"select * from {BOOKMARKS} where owner_id = ? and url = ?", [owner_id, url]
        )
    ).first()
    return _bookmark(row)


async def update_bookmark(datasette, bookmark_id, title, note, tags, shared):
    def write(conn):
        conn.execute(
            f"update {BOOKMARKS} set title = ?, note = ?, note_html = ?, tags = ?, shared = ?,"
            " updated_at = ? where id = ?",
            [
                title,
                note,
                notes.render(note),
                json.dumps(tags),
                int(shared),
                clock.iso(),
                bookmark_id,
            ],
        )
        _set_tags(conn, bookmark_id, tags)

    await get_internal_db(datasette).execute_write_fn(write)


async def get_bookmark(datasette, bookmark_id):
    row = (
        await get_internal_db(datasette).execute(
            f"select * from {BOOKMARKS} where id = ?", [bookmark_id]
        )
    ).first()
    return _bookmark(row)


async def delete_bookmark(datasette, bookmark_id):
    def write(conn):
        conn.execute(f"delete from {TAGS} where bookmark_id = ?", [bookmark_id])
        conn.execute(f"delete from {BOOKMARKS} where id = ?", [bookmark_id])

    await get_internal_db(datasette).execute_write_fn(write)


SCOPES = {
    "all": "(b.owner_id = :actor_id or b.shared = 1)",
    "mine": "b.owner_id = :actor_id",
    "shared": "(b.shared = 1 and b.owner_id is not :actor_id)",
}


async def list_bookmarks(
    datasette, actor_id, *, scope="all", tag=None, search=None, before=None, limit=50
):
    """Newest first, ``id < before``: the actor's own and/or other people's shared bookmarks.

    Each form is an index walk in id order that stops after ``limit`` rows: the FTS index
    (rowid order) when searching, the (tag, bookmark_id) index for a tag, else the two indexes
    (owner_id, id) and (shared, id). Shared bookmarks still have to be filtered by the caller
    for view permission on their targets.
    """
    params = {
        "actor_id": actor_id,
        "before": before if before is not None else NO_CURSOR,
        "limit": limit,
        "tag": tag,
    }
    search = fts_query(search) if search else None
    visible = SCOPES[scope]
    has_tag = f"exists (select 1 from {TAGS} where bookmark_id = b.id and tag = :tag)"
    if search:
        params["search"] = search
        sql = (
            f"select b.* from {FTS} join {BOOKMARKS} b on b.id = {FTS}.rowid"
            f" where {FTS} match :search and {FTS}.rowid < :before and {visible}"
            f"{' and ' + has_tag if tag else ''} order by {FTS}.rowid desc limit :limit"
        )
    elif tag:
        sql = (
            f"select b.* from {TAGS} t join {BOOKMARKS} b on b.id = t.bookmark_id"
            f" where t.tag = :tag and t.bookmark_id < :before and {visible}"
            " order by t.bookmark_id desc limit :limit"
        )
    else:
        parts = []
        if scope in ("all", "mine"):
            parts.append(
                f"select * from (select * from {BOOKMARKS} where owner_id = :actor_id"
                " and id < :before order by id desc limit :limit)"
            )
        if scope in ("all", "shared"):
            parts.append(
                f"select * from (select * from {BOOKMARKS} where shared = 1 and id < :before"
                " and owner_id is not :actor_id order by id desc limit :limit)"
            )
        sql = " union all ".join(parts) + " order by id desc limit :limit"
    rows = await get_internal_db(datasette).execute(sql, params)
    return [_bookmark(row) for row in rows]


async def owner_bookmarks(datasette, owner_id):
    rows = await get_internal_db(datasette).execute(
        f"select * from {BOOKMARKS} where owner_id = ? order by id", [owner_id]
    )
    return [_bookmark(row) for row in rows]


async def owner_tags(datasette, owner_id, limit=50):
    rows = await get_internal_db(datasette).execute(
        f"select tag, count from {TAG_COUNTS} where owner_id = ? order by count desc, tag limit ?",
        [owner_id, limit],
    )
    return [dict(row) for row in rows]


async def owner_bookmark_ids(datasette, owner_id):
    rows = await get_internal_db(datasette).execute(
        f"select id from {BOOKMARKS} where owner_id = ? order by id", [owner_id]
    )
    return [row["id"] for row in rows]


async def mark_checked(datasette, results):
    """``results``: (bookmark_id, reason or None) pairs from a link-rot scan."""
    now = clock.iso()
    await get_internal_db(datasette).execute_write_fn(
        lambda conn: conn.executemany(
            f"update {BOOKMARKS} set broken = ?, checked_at = ? where id = ?",
            [(reason, now, bookmark_id) for bookmark_id, reason in results],
        )
    )


# ---------------------------------------------------------------- short links


def _link(row):
    if row is None:
        return None
    link = dict(row)
    link["disabled"] = bool(link["disabled"])
    return link


async def get_link(datasette, code):
    row = (
        await get_internal_db(datasette).execute(f"select * from {LINKS} where code = ?", [code])
    ).first()
    return _link(row)


def open_link_reader(datasette):
    """A read-only connection to the internal file for ``get_link_now``; None for an in-memory
    internal DB. ``timeout=0``: a busy file raises at once instead of blocking the event loop."""
    internal = get_internal_db(datasette)
    if internal.is_memory or not internal.path:
        return None
    reader = sqlite3.connect(f"file:{internal.path}?mode=ro", uri=True, timeout=0)
    reader.row_factory = sqlite3.Row
    return reader


def get_link_now(reader, code):
    """``get_link`` on the calling (event loop) thread: one primary-key probe, microseconds,
    where ``Database.execute`` would hop to a thread and back. ``fetchall`` ends the read
    transaction, so the next call sees the latest commit. Raises sqlite3.OperationalError when
    the file is busy."""
    rows = reader.execute(f"select * from {LINKS} where code = ?", [code]).fetchall()
    return _link(rows[0]) if rows else None


async def insert_link(datasette, codes, fields):
    """Insert with the first free code from the iterable ``codes``; returns that code.

    A custom slug is a one-element list, so a taken slug raises InvalidInput.
    """
    now = clock.iso()
    columns = ["code", *fields, "created_at", "updated_at"]
    sql = f"insert into {LINKS} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})"

    def write(conn):
        for code in codes:
            try:
                conn.execute(sql, [code, *fields.values(), now, now])
                return code
            except sqlite3.IntegrityError:
                continue
        return None

    code = await get_internal_db(datasette).execute_write_fn(write)
    if code is None:
        raise InvalidInput("That short link code is already taken")
    return code


UPDATABLE_LINK_FIELDS = {
    "target",
    "title",
    "expires_at",
    "max_visits",
    "disabled",
    "resource_kind",
    "resource_database",
    "resource_name",
}


async def update_link(datasette, code, fields):
    assert set(fields) <= UPDATABLE_LINK_FIELDS
    assignments = ", ".join(f"{column} = ?" for column in fields)
    await get_internal_db(datasette).execute_write(
        f"update {LINKS} set {assignments}, updated_at = ? where code = ?",
        [*fields.values(), clock.iso(), code],
    )


async def delete_link(datasette, code):
    def write(conn):
        conn.execute(f"delete from {LINK_DAYS} where code = ?", [code])
        conn.execute(f"delete from {LINKS} where code = ?", [code])

    await get_internal_db(datasette).execute_write_fn(write)


async def list_links(datasette, owner_id=None, *, before=None, limit=50):
    """Newest first; ``owner_id=None`` lists everybody's (for short-links-admin).

    ``before``: the (created_at, code) of the last link of the previous page. The code breaks
    ties between links created in the same millisecond, so paging never skips or repeats one.
    """
    clauses, params = [], {"limit": limit}
    if owner_id is not None:
        clauses.append("owner_id = :owner_id")
        params["owner_id"] = owner_id
    if before is not None:
        clauses.append(
            "created_at <= :before_at and (created_at < :before_at or code < :before_code)"
        )
        params["before_at"], params["before_code"] = before
    where = ("where " + " and ".join(clauses)) if clauses else ""
    rows = await get_internal_db(datasette).execute(
        f"select * from {LINKS} {where} order by created_at desc, code desc limit :limit", params
    )
    return [_link(row) for row in rows]


async def link_days(datasette, code, limit=90):
    rows = await get_internal_db(datasette).execute(
        f"select day, visits from {LINK_DAYS} where code = ? order by day desc limit ?",
        [code, limit],
    )
    return [dict(row) for row in rows]


async def add_visits(datasette, totals, days):
    """Add counted visits in one write: ``totals`` {code: (count, last_visit_at)},
    ``days`` {(code, day): count}. Counts for deleted links are dropped by the join.

    Each table gets one statement over a JSON array (``json_each``), not ``executemany``: the
    write thread then holds Python's GIL once per statement instead of once per row, so a flush
    of a thousand codes does not take turns with the event loop a thousand times.
    """
    totals_json = json.dumps([[code, count, last] for code, (count, last) in totals.items()])
    days_json = json.dumps([[code, day, count] for (code, day), count in days.items()])

    def write(conn):
        conn.execute(
            f"update {LINKS} set visits = visits + v.count,"
            " last_visit_at = max(coalesce(last_visit_at, ''), v.last)"
            " from (select json_extract(value, '$[0]') as code,"
            " json_extract(value, '$[1]') as count, json_extract(value, '$[2]') as last"
            f" from json_each(?)) as v where {LINKS}.code = v.code",
            [totals_json],
        )
        conn.execute(
            f"insert into {LINK_DAYS} (code, day, visits)"
            " select v.code, v.day, v.count from (select json_extract(value, '$[0]') as code,"
            " json_extract(value, '$[1]') as day, json_extract(value, '$[2]') as count"
            f" from json_each(?)) as v join {LINKS} l on l.code = v.code where true"
            " on conflict (code, day) do update set visits = visits + excluded.visits",
            [days_json],
        )

    await get_internal_db(datasette).execute_write_fn(write)
