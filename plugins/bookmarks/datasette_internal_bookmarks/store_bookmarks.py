"""Every SQL statement on bookmarks, their tags, tag counts and full-text index."""

import json
import sqlite3

from datasette_internal_db import (
    MARKDOWN_VERSION,
    InvalidInput,
    clock,
    get_internal_db,
    read_on_loop,
    read_row,
    read_rows,
    render_markdown,
)
from datasette_internal_db.text import fts_query

from .migrations import BOOKMARKS, FTS, TAG_COUNTS, TAGS

# Bookmark ids are below this: a listing without a cursor starts here.
NO_CURSOR = 2**62


def _bookmark(row):
    if row is None:
        return None
    bookmark = dict(row)
    bookmark["tags"] = json.loads(bookmark["tags"])
    bookmark["shared"] = bool(bookmark["shared"])
    if bookmark.pop("markdown_version") != MARKDOWN_VERSION:
        # Rendered by an older policy: never show that HTML, render it by today's.
        bookmark["note_html"] = render_markdown(bookmark["note"])
    return bookmark


def _note_columns(note):
    return [note, render_markdown(note), MARKDOWN_VERSION]


def _save_bookmark(conn, owner_id, url, title, note, tags, shared, target, now):
    existing = conn.execute(
        f"select id from {BOOKMARKS} where owner_id = ? and url = ?", [owner_id, url]
    ).fetchone()
    values = [
        title,
        *_note_columns(note),
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
            f"update {BOOKMARKS} set title = ?, note = ?, note_html = ?, markdown_version = ?,"
            " tags = ?, shared = ?, resource_kind = ?, resource_database = ?, resource_name = ?,"
            " resource_row = ?, broken = null, updated_at = ? where id = ?",
            [*values, now, bookmark_id],
        )
    else:
        bookmark_id = conn.execute(
            f"insert into {BOOKMARKS} (title, note, note_html, markdown_version, tags, shared,"
            " resource_kind, resource_database, resource_name, resource_row, owner_id, url,"
            " created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    sql = f"select * from {BOOKMARKS} where owner_id = ? and url = ?"
    return await read_row(datasette, sql, [owner_id, url], _bookmark)


async def update_bookmark(datasette, bookmark_id, *, title, note, tags, shared, url, target):
    """Change every field of one bookmark; its URL may not be another of the owner's."""

    def write(conn):
        try:
            conn.execute(
                f"update {BOOKMARKS} set title = ?, note = ?, note_html = ?,"
                " markdown_version = ?, tags = ?, shared = ?, url = ?, resource_kind = ?,"
                " resource_database = ?, resource_name = ?, resource_row = ?,"
                " broken = case when url = ? then broken end, updated_at = ? where id = ?",
                [
                    title,
                    *_note_columns(note),
                    json.dumps(tags),
                    int(shared),
                    url,
                    target.kind,
                    target.database,
                    target.name,
                    target.row,
                    url,
                    clock.iso(),
                    bookmark_id,
                ],
            )
        except sqlite3.IntegrityError:
            raise InvalidInput("You already have a bookmark of that page") from None
        _set_tags(conn, bookmark_id, tags)

    await get_internal_db(datasette).execute_write_fn(write)


async def get_bookmark(datasette, bookmark_id):
    sql = f"select * from {BOOKMARKS} where id = ?"
    return await read_row(datasette, sql, [bookmark_id], _bookmark)


async def get_bookmarks(datasette, bookmark_ids):
    """The bookmarks of ``bookmark_ids`` that still exist, in id order."""
    return await read_rows(
        datasette,
        f"select * from {BOOKMARKS} where id in (select value from json_each(?)) order by id",
        [json.dumps(list(bookmark_ids))],
        _bookmark,
    )


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
    (owner_id, id) and (shared, id), short enough to run on the event loop (``read_on_loop``).
    Shared bookmarks still have to be filtered by the caller for view permission on their
    targets.
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
    rows = await read_on_loop(datasette, lambda conn: conn.execute(sql, params).fetchall())
    return [_bookmark(row) for row in rows]


async def owner_bookmarks(datasette, owner_id):
    sql = f"select * from {BOOKMARKS} where owner_id = ? order by id"
    return await read_rows(datasette, sql, [owner_id], _bookmark)


async def owner_tags(datasette, owner_id, limit=50):
    sql = f"select tag, count from {TAG_COUNTS} where owner_id = ? order by count desc, tag limit ?"
    rows = await read_on_loop(
        datasette, lambda conn: conn.execute(sql, [owner_id, limit]).fetchall()
    )
    return [dict(row) for row in rows]


async def owner_bookmark_ids(datasette, owner_id):
    sql = f"select id from {BOOKMARKS} where owner_id = ? order by id"
    return await read_rows(datasette, sql, [owner_id], lambda row: row["id"])


async def mark_checked(datasette, results):
    """``results``: (bookmark_id, reason or None) pairs from a link-rot scan."""
    now = clock.iso()
    await get_internal_db(datasette).execute_write_fn(
        lambda conn: conn.executemany(
            f"update {BOOKMARKS} set broken = ?, checked_at = ? where id = ?",
            [(reason, now, bookmark_id) for bookmark_id, reason in results],
        )
    )
