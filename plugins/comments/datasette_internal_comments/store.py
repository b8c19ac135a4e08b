"""SQL for threads and comments in the internal DB, and the few reads of users' databases.

Every function takes ``datasette`` first. Lists across targets (activity, inbox, counts) are in
store_activity.py.
"""

import hashlib
import json
import weakref

from datasette.utils import tilde_encode
from datasette_internal_db import get_internal_db, internal_data_version, read_on_loop
from datasette_internal_db.rows import read_row

from . import store_email
from .migrations import COMMENTS, FTS, INBOX, MENTIONS, REACTIONS, REVISIONS, THREADS

__all__ = ["COMMENTS", "FTS", "INBOX", "MENTIONS", "REACTIONS", "REVISIONS", "THREADS"]

MAX_ANCHOR_CHARS = 2000

THREAD_COLUMNS = (
    "t.id as thread_id, t.target_type, t.database_name, t.table_name, t.column_name, t.row_key,"
    " t.row_pks, t.row_label, t.anchor_value, t.author_id as thread_author_id,"
    " t.created_at as thread_created_at, t.last_activity_at, t.resolved_at, t.resolved_by"
)
COMMENT_COLUMNS = (
    "c.id, c.thread_id, c.author_id, c.body, c.html, c.html_version, c.created_at, c.edited_at,"
    " c.deleted_at, c.deleted_by"
)


def internal(datasette):
    return get_internal_db(datasette)


def row_key_for(pk_values):
    """The row's path component exactly as Datasette writes it in row URLs (an integer's
    digits need no encoding: the common key is not run through tilde_encode)."""
    return ",".join(
        str(value) if type(value) is int else tilde_encode(str(value)) for value in pk_values
    )


def encode_cell(value):
    """A JSON text for a cell value, comparable across reads; large values become a digest."""
    if isinstance(value, bytes):
        value = {"binary_bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    encoded = json.dumps(value, ensure_ascii=False)
    if len(encoded) > MAX_ANCHOR_CHARS:
        encoded = json.dumps(
            {
                "truncated": encoded[: MAX_ANCHOR_CHARS // 2],
                "sha256": hashlib.sha256(encoded.encode()).hexdigest(),
            },
            ensure_ascii=False,
        )
    return encoded


# ---------------------------------------------------------------------------- user databases


async def fetch_row(datasette, database, table, pk_values):
    """``(row, pk_columns)`` of a row of a served database (core's read_row), read on the loop."""
    return await read_on_loop(
        datasette, lambda conn: read_row(conn, table, pk_values), datasette.get_database(database)
    )


async def table_names(datasette, database):
    return await datasette.get_database(database).table_names()


async def column_names(datasette, database, table):
    return await datasette.get_database(database).table_columns(table)


async def label_column(datasette, database, table):
    return await datasette.get_database(database).label_column_for_table(table)


async def allowed_pairs(datasette, action, actor):
    """Every (database, table-or-None) the actor may perform ``action`` on, from Datasette's SQL."""
    sql, params = await datasette.allowed_resources_sql(action=action, actor=actor)
    rows = await internal(datasette).execute(sql, params)
    return {(row[0], row[1]) for row in rows}


# ---------------------------------------------------------------------------- writes


def _notify(conn, actor_id, comment_id, reason, now, email):
    added = conn.execute(
        f"insert or ignore into {INBOX}"
        " (actor_id, comment_id, database_name, table_name, reason, created_at)"
        f" select ?, id, database_name, table_name, ?, ? from {COMMENTS} where id = ?",
        [actor_id, reason, now, comment_id],
    ).rowcount
    # What reaches the inbox is what may be emailed; both rows commit with the comment.
    if added and email:
        store_email.queue_comment_event(conn, actor_id, comment_id, reason, now)


def _record_mentions(conn, comment_id, author_id, mentions, now, email):
    for actor_id in mentions:
        added = conn.execute(
            f"insert or ignore into {MENTIONS} (comment_id, actor_id) values (?, ?)",
            [comment_id, actor_id],
        ).rowcount
        if added and actor_id != author_id:
            _notify(conn, actor_id, comment_id, "mention", now, email)


def _record_mentions_and_inbox(conn, thread_id, comment_id, author_id, mentions, now, email):
    _record_mentions(conn, comment_id, author_id, mentions, now, email)
    # Everyone else who took part in the thread hears about the reply.
    participants = conn.execute(
        f"select distinct author_id from {COMMENTS}"
        " where thread_id = ? and author_id != ? and id != ?",
        [thread_id, author_id, comment_id],
    ).fetchall()
    for (participant,) in participants:
        _notify(conn, participant, comment_id, "reply", now, email)


def _insert_comment(conn, thread_id, author_id, body, now, email):
    comment_id = conn.execute(
        f"insert into {COMMENTS}"
        " (thread_id, database_name, table_name, author_id, body, html, html_version, created_at)"
        f" select id, database_name, table_name, ?, ?, ?, ?, ? from {THREADS} where id = ?",
        [author_id, body.text, body.html, body.html_version, now, thread_id],
    ).lastrowid
    conn.execute(f"update {THREADS} set last_activity_at = ? where id = ?", [now, thread_id])
    _record_mentions_and_inbox(conn, thread_id, comment_id, author_id, body.mentions, now, email)
    return comment_id


async def create_thread(datasette, target, author_id, body, now, email=False):
    """Create a thread and its first comment in one transaction; returns both ids.

    ``body`` is a ``rendering.Body``: text, stored HTML and mentions. ``email``: also queue
    email events for those notified (store_email.py).
    """

    def write(conn):
        thread_id = conn.execute(
            f"insert into {THREADS} (target_type, database_name, table_name, column_name, row_key,"
            " row_pks, row_label, anchor_value, author_id, created_at, last_activity_at)"
            " values (:type, :database, :table, :column, :row_key, :row_pks, :row_label,"
            " :anchor_value, :author_id, :now, :now)",
            {**target, "author_id": author_id, "now": now},
        ).lastrowid
        return thread_id, _insert_comment(conn, thread_id, author_id, body, now, email)

    return await internal(datasette).execute_write_fn(write)


async def add_comment(datasette, thread_id, author_id, body, now, email=False):
    return await internal(datasette).execute_write_fn(
        lambda conn: _insert_comment(conn, thread_id, author_id, body, now, email)
    )


async def edit_comment(datasette, comment_id, body, now, email=False):
    """Keep the old body as a revision, store the new one and re-record mentions."""

    def write(conn):
        author_id, old_body = conn.execute(
            f"select author_id, body from {COMMENTS} where id = ?", [comment_id]
        ).fetchone()
        conn.execute(
            f"insert into {REVISIONS} (comment_id, body, replaced_at) values (?, ?, ?)",
            [comment_id, old_body, now],
        )
        conn.execute(
            f"update {COMMENTS} set body = ?, html = ?, html_version = ?, edited_at = ?"
            " where id = ?",
            [body.text, body.html, body.html_version, now, comment_id],
        )
        _record_mentions(conn, comment_id, author_id, body.mentions, now, email)

    await internal(datasette).execute_write_fn(write)


async def delete_comment(datasette, comment_id, deleted_by, now):
    """Leave a tombstone: the text, its revisions, reactions and mentions are removed."""

    def write(conn):
        conn.execute(
            f"update {COMMENTS} set body = '', html = '', deleted_at = ?, deleted_by = ?"
            " where id = ?",
            [now, deleted_by, comment_id],
        )
        for table in (REVISIONS, REACTIONS, MENTIONS, INBOX):
            conn.execute(f"delete from {table} where comment_id = ?", [comment_id])

    await internal(datasette).execute_write_fn(write)


async def set_resolved(datasette, thread_id, actor_id, resolve, now, email=False):
    """Resolve or reopen a thread as ``actor_id``; ``email``: queue email events for the
    others who wrote in it."""

    def write(conn):
        conn.execute(
            f"update {THREADS} set resolved_at = ?, resolved_by = ?, last_activity_at = ?"
            " where id = ?",
            [now if resolve else None, actor_id if resolve else None, now, thread_id],
        )
        if email:
            reason = "resolved" if resolve else "reopened"
            store_email.queue_thread_event(conn, thread_id, actor_id, reason, now)

    await internal(datasette).execute_write_fn(write)


async def toggle_reaction(datasette, comment_id, actor_id, emoji, now):
    """Add the reaction, or remove it if the actor had it already; True when added."""

    def write(conn):
        removed = conn.execute(
            f"delete from {REACTIONS} where comment_id = ? and actor_id = ? and emoji = ?",
            [comment_id, actor_id, emoji],
        ).rowcount
        if not removed:
            conn.execute(
                f"insert into {REACTIONS} (comment_id, actor_id, emoji, created_at)"
                " values (?, ?, ?, ?)",
                [comment_id, actor_id, emoji, now],
            )
        return not removed

    return await internal(datasette).execute_write_fn(write)


# ---------------------------------------------------------------------------- reads


async def get_thread(datasette, thread_id):
    row = (
        await internal(datasette).execute(
            f"select {THREAD_COLUMNS} from {THREADS} t where t.id = ?", [thread_id]
        )
    ).first()
    return dict(row) if row else None


async def get_comment(datasette, comment_id):
    """A comment joined with its thread's target columns, or None."""
    row = (
        await internal(datasette).execute(
            f"select {COMMENT_COLUMNS}, {THREAD_COLUMNS} from {COMMENTS} c"
            f" join {THREADS} t on t.id = c.thread_id where c.id = ?",
            [comment_id],
        )
    ).first()
    return dict(row) if row else None


def _threads_for_target(conn, database, table, column, row_key):
    sql = (
        f"select {THREAD_COLUMNS} from {THREADS} t"
        " where t.database_name = :database and t.table_name = :table and t.row_key = :row_key"
    )
    params = {"database": database, "table": table, "row_key": row_key, "column": column}
    if column:
        sql += " and t.column_name = :column"
    sql += " order by t.id"
    return [dict(row) for row in conn.execute(sql, params)]


async def threads_for_target(datasette, database, table="", column="", row_key=""):
    """Threads on one target and on the targets inside it, with their contents.

    A row includes its cells, a table its columns; a ``column`` narrows to that column (or, with
    a ``row_key``, that cell). Threads on rows are never part of a table's list. Returns
    ``(threads, contents)``, ``contents`` as from ``thread_contents``, in one trip to the read
    thread.
    """

    def read(conn):
        threads = _threads_for_target(conn, database, table, column, row_key)
        return threads, _thread_contents(conn, [thread["thread_id"] for thread in threads])

    return await read_on_loop(datasette, read)


# One statement for the comments of some threads with what hangs on each (each part an indexed
# lookup by comment id): fewer statements cost the event loop less than one per part did.
THREAD_CONTENTS = (
    f"select {COMMENT_COLUMNS},"
    f" (select count(*) from {REVISIONS} r where r.comment_id = c.id) as revision_count,"
    " (select json_group_array(json_array(emoji, actor_id))"
    f" from {REACTIONS} x where x.comment_id = c.id) as reacted,"
    " (select json_group_array(actor_id) from"
    f" (select actor_id from {MENTIONS} m where m.comment_id = c.id order by actor_id))"
    " as mentioned"
    f" from {COMMENTS} c where c.thread_id in (select value from json_each(?))"
    " order by c.thread_id, c.id"
)


def _thread_contents(conn, thread_ids):
    comments, reactions, mentions = {}, {}, {}
    if not thread_ids:
        return comments, reactions, mentions
    for row in conn.execute(THREAD_CONTENTS, [json.dumps(list(thread_ids))]):
        comment = dict(row)
        reacted, mentioned = comment.pop("reacted"), comment.pop("mentioned")
        comments.setdefault(comment["thread_id"], []).append(comment)
        if reacted != "[]":
            by_emoji = {}
            for emoji, actor_id in json.loads(reacted):
                found = by_emoji.setdefault(emoji, {"emoji": emoji, "count": 0, "actor_ids": []})
                found["count"] += 1
                found["actor_ids"].append(actor_id)
            reactions[comment["id"]] = list(by_emoji.values())
        if mentioned != "[]":
            mentions[comment["id"]] = json.loads(mentioned)
    return comments, reactions, mentions


async def thread_contents(datasette, thread_ids):
    """``(comments, reactions, mentions)`` for the given threads, in one trip to the read thread.

    ``comments`` is ``{thread_id: [comment, ...]}`` oldest first with revision counts,
    ``reactions`` ``{comment_id: [{"emoji", "count", "actor_ids"}]}`` and
    ``mentions`` ``{comment_id: [actor_id, ...]}``.
    """
    return await internal(datasette).execute_fn(lambda conn: _thread_contents(conn, thread_ids))


async def revisions(datasette, comment_id):
    rows = await internal(datasette).execute(
        f"select id, body, replaced_at from {REVISIONS} where comment_id = ? order by id",
        [comment_id],
    )
    return [dict(row) for row in rows]


BADGE_COUNTS = (
    f"select row_key, count(*) as threads, sum(resolved_at is null) as open from {THREADS}"
    " where database_name = :database and table_name = :table"
    " and row_key in (select value from json_each(:row_keys))"
    " group by row_key"
)


def read_badge_counts(conn, database, table, row_keys):
    """``badge_counts`` on a read connection, for reads that share one trip."""
    rows = conn.execute(
        BADGE_COUNTS,
        {"database": database, "table": table, "row_keys": json.dumps(list(row_keys))},
    )
    return {row["row_key"]: {"threads": row["threads"], "open": row["open"]} for row in rows}


# datasette → {kind: {key: (data version, answer)}}, each kind's oldest first
_memos = weakref.WeakKeyDictionary()
MEMO_ENTRIES = 64  # answers kept per kind (badge API row sets, table pages)


async def read_while_unchanged(datasette, kind, key, read):
    """Core's ``read_on_loop(datasette, read)``, its answer kept for ``key`` (the last MEMO_ENTRIES
    keys of each ``kind``) while the internal DB is unchanged. The data version is read before
    the answer, so a write during the read only costs a read more. Exact, not a lag: callers
    must not change what they get."""
    memo = _memos.setdefault(datasette, {}).setdefault(kind, {})
    version = internal_data_version(datasette)
    kept = memo.get(key)
    if version is not None and kept is not None and kept[0] == version:
        return kept[1]
    answer = await read_on_loop(datasette, read)
    if version is not None:
        memo.pop(key, None)
        if len(memo) >= MEMO_ENTRIES:
            del memo[next(iter(memo))]  # the oldest
        memo[key] = (version, answer)
    return answer


async def badge_counts(datasette, database, table, row_keys):
    """{row_key: {"threads": n, "open": m}} for the rows that have threads — one indexed query,
    kept while the internal DB is unchanged (``read_while_unchanged``)."""
    return await read_while_unchanged(
        datasette,
        "badges",
        (database, table, tuple(row_keys)),
        lambda conn: read_badge_counts(conn, database, table, row_keys),
    )


async def row_thread_summary(datasette, database, table):
    """``(threads, open)`` on the rows and cells of one table: a range of the target index."""
    row = (
        await internal(datasette).execute(
            f"select count(*), coalesce(sum(resolved_at is null), 0) from {THREADS}"
            " where database_name = :database and table_name = :table and row_key > ''",
            {"database": database, "table": table},
        )
    ).first()
    return row[0], row[1]
