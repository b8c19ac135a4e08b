"""Every SQL statement of the plugin: the comment tables in the internal DB, and row look-ups.

Reads take a ``scope``: a list of ``[database, table]`` pairs the reader may see comments on
(``table`` is ``""`` for database-level threads), built by ``access.visible_scope``. Queries that
span targets filter on it in SQL, so nothing outside the scope is ever read, counted or returned.
"""

import hashlib
import json

from datasette.utils import detect_primary_keys, escape_sqlite, tilde_encode
from datasette_internal_db import get_internal_db
from datasette_internal_db.text import fts_query

THREADS = "datasette_internal_comments_threads"
COMMENTS = "datasette_internal_comments_comments"
REVISIONS = "datasette_internal_comments_revisions"
REACTIONS = "datasette_internal_comments_reactions"
MENTIONS = "datasette_internal_comments_mentions"
INBOX = "datasette_internal_comments_inbox"
FTS = "datasette_internal_comments_fts"

MAX_ANCHOR_CHARS = 2000


# Unary plus keeps SQLite from driving the query through the (database, table) index for every
# visible pair and then sorting: reads walk comments newest first and check each against this.
def in_scope(alias):
    return (
        f"(+{alias}.database_name, +{alias}.table_name) in"
        " (select json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each(:scope))"
    )


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
    """The row's path component exactly as Datasette writes it in row URLs."""
    return ",".join(tilde_encode(str(value)) for value in pk_values)


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
    """The row (a dict) for primary-key values given as strings or values, or None.

    Returns ``(row, pk_columns)``; tables without a primary key are addressed by rowid.
    One trip to the database's read thread.
    """

    def read(conn):
        exists = conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = ?", [table]
        ).fetchone()
        if not exists:
            return None, []
        pks = detect_primary_keys(conn, table)
        pk_columns = pks or ["rowid"]
        if len(pk_values) != len(pk_columns):
            return None, pk_columns
        where = " and ".join(f"{escape_sqlite(column)} = ?" for column in pk_columns)
        select = "*" if pks else "rowid, *"
        row = conn.execute(
            f"select {select} from {escape_sqlite(table)} where {where} limit 1", list(pk_values)
        ).fetchone()
        return (dict(row) if row is not None else None), pk_columns

    return await datasette.get_database(database).execute_fn(read)


async def table_names(datasette, database):
    return await datasette.get_database(database).table_names()


async def column_names(datasette, database, table):
    return await datasette.get_database(database).table_columns(table)


async def label_column(datasette, database, table):
    return await datasette.get_database(database).label_column_for_table(table)


# ---------------------------------------------------------------------------- permissions


async def allowed_pairs(datasette, action, actor):
    """Every (database, table-or-None) the actor may perform ``action`` on, from Datasette's SQL."""
    sql, params = await datasette.allowed_resources_sql(action=action, actor=actor)
    rows = await internal(datasette).execute(sql, params)
    return {(row[0], row[1]) for row in rows}


# ---------------------------------------------------------------------------- writes


def _notify(conn, actor_id, comment_id, reason, now):
    conn.execute(
        f"insert or ignore into {INBOX}"
        " (actor_id, comment_id, database_name, table_name, reason, created_at)"
        f" select ?, id, database_name, table_name, ?, ? from {COMMENTS} where id = ?",
        [actor_id, reason, now, comment_id],
    )


def _record_mentions(conn, comment_id, author_id, mentions, now):
    for actor_id in mentions:
        added = conn.execute(
            f"insert or ignore into {MENTIONS} (comment_id, actor_id) values (?, ?)",
            [comment_id, actor_id],
        ).rowcount
        if added and actor_id != author_id:
            _notify(conn, actor_id, comment_id, "mention", now)


def _record_mentions_and_inbox(conn, thread_id, comment_id, author_id, mentions, now):
    _record_mentions(conn, comment_id, author_id, mentions, now)
    # Everyone else who took part in the thread hears about the reply.
    participants = conn.execute(
        f"select distinct author_id from {COMMENTS}"
        " where thread_id = ? and author_id != ? and id != ?",
        [thread_id, author_id, comment_id],
    ).fetchall()
    for (participant,) in participants:
        _notify(conn, participant, comment_id, "reply", now)


def _insert_comment(conn, thread_id, author_id, body, now):
    comment_id = conn.execute(
        f"insert into {COMMENTS}"
        " (thread_id, database_name, table_name, author_id, body, html, html_version, created_at)"
        f" select id, database_name, table_name, ?, ?, ?, ?, ? from {THREADS} where id = ?",
        [author_id, body.text, body.html, body.html_version, now, thread_id],
    ).lastrowid
    conn.execute(f"update {THREADS} set last_activity_at = ? where id = ?", [now, thread_id])
    _record_mentions_and_inbox(conn, thread_id, comment_id, author_id, body.mentions, now)
    return comment_id


async def create_thread(datasette, target, author_id, body, now):
    """Create a thread and its first comment in one transaction; returns both ids.

    ``body`` is a ``rendering.Body``: text, stored HTML and mentions.
    """

    def write(conn):
        thread_id = conn.execute(
            f"insert into {THREADS} (target_type, database_name, table_name, column_name, row_key,"
            " row_pks, row_label, anchor_value, author_id, created_at, last_activity_at)"
            " values (:type, :database, :table, :column, :row_key, :row_pks, :row_label,"
            " :anchor_value, :author_id, :now, :now)",
            {**target, "author_id": author_id, "now": now},
        ).lastrowid
        return thread_id, _insert_comment(conn, thread_id, author_id, body, now)

    return await internal(datasette).execute_write_fn(write)


async def add_comment(datasette, thread_id, author_id, body, now):
    return await internal(datasette).execute_write_fn(
        lambda conn: _insert_comment(conn, thread_id, author_id, body, now)
    )


async def edit_comment(datasette, comment_id, body, now):
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
        _record_mentions(conn, comment_id, author_id, body.mentions, now)

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


async def set_resolved(datasette, thread_id, resolved_by, now):
    """Resolve (``resolved_by`` an actor id) or reopen (``resolved_by`` None) a thread."""
    await internal(datasette).execute_write(
        f"update {THREADS} set resolved_at = ?, resolved_by = ?, last_activity_at = ? where id = ?",
        [now if resolved_by else None, resolved_by, now, thread_id],
    )


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


async def mark_read(datasette, actor_id, inbox_ids, now):
    """Mark the actor's inbox entries read: the ids given, or all of them for None."""
    sql = f"update {INBOX} set read_at = :now where actor_id = :actor_id and read_at is null"
    params = {"now": now, "actor_id": actor_id}
    if inbox_ids is not None:
        sql += " and id in (select value from json_each(:ids))"
        params["ids"] = json.dumps(inbox_ids)
    return (await internal(datasette).execute_write(sql, params)).rowcount


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

    return await internal(datasette).execute_fn(read)


def _thread_contents(conn, thread_ids):
    comments, reactions, mentions = {}, {}, {}
    if not thread_ids:
        return comments, reactions, mentions
    ids = json.dumps(list(thread_ids))
    of_threads = f"(select id from {COMMENTS} where thread_id in (select value from json_each(?)))"
    for row in conn.execute(
        f"select {COMMENT_COLUMNS},"
        f" (select count(*) from {REVISIONS} r where r.comment_id = c.id) as revision_count"
        f" from {COMMENTS} c where c.thread_id in (select value from json_each(?))"
        " order by c.thread_id, c.id",
        [ids],
    ):
        comments.setdefault(row["thread_id"], []).append(dict(row))
    for row in conn.execute(
        "select comment_id, emoji, count(*) as count, json_group_array(actor_id) as actor_ids"
        f" from {REACTIONS} where comment_id in {of_threads} group by comment_id, emoji",
        [ids],
    ):
        reactions.setdefault(row["comment_id"], []).append(
            {
                "emoji": row["emoji"],
                "count": row["count"],
                "actor_ids": json.loads(row["actor_ids"]),
            }
        )
    for row in conn.execute(
        f"select comment_id, actor_id from {MENTIONS}"
        f" where comment_id in {of_threads} order by actor_id",
        [ids],
    ):
        mentions.setdefault(row["comment_id"], []).append(row["actor_id"])
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


async def badge_counts(datasette, database, table, row_keys):
    """{row_key: {"threads": n, "open": m}} for the rows that have threads — one indexed query."""
    rows = await internal(datasette).execute(
        f"select row_key, count(*) as threads, sum(resolved_at is null) as open from {THREADS}"
        " where database_name = :database and table_name = :table"
        " and row_key in (select value from json_each(:row_keys))"
        " group by row_key",
        {"database": database, "table": table, "row_keys": json.dumps(list(row_keys))},
    )
    return {row["row_key"]: {"threads": row["threads"], "open": row["open"]} for row in rows}


async def activity(
    datasette,
    scope,
    *,
    query=None,
    author=None,
    database=None,
    table=None,
    resolved=None,
    mentioning=None,
    before_id=None,
    limit=50,
):
    """Visible, not deleted comments newest first, filtered; keyset-paged on the comment id."""
    clauses = [in_scope("c"), "c.deleted_at is null"]
    params = {"scope": json.dumps(scope), "limit": limit}
    source = f"{COMMENTS} c"
    order = "c.id"
    query = fts_query(query) if query else None
    if query:
        # Driving from the FTS index in rowid order stops after `limit` matches; an IN over all
        # matches would first collect every one of them (a second for a word in every comment).
        source = f"{FTS} f join {COMMENTS} c on c.id = f.rowid"
        order = "f.rowid"
        clauses.append(f"{FTS} match :query")
        params["query"] = query
    if author:
        clauses.append("c.author_id = :author")
        params["author"] = author
    if database and table:
        # the comments_target index gives one table's comments already newest first
        clauses.append("c.database_name = :database and c.table_name = :table")
    elif database or table:
        # one whole database: walking all comments newest first beats sorting that database's
        clauses.append("+c.database_name = :database" if database else "+c.table_name = :table")
    params.update(database=database, table=table)
    if resolved is not None:
        clauses.append(
            f"exists (select 1 from {THREADS} t2 where t2.id = c.thread_id"
            f" and t2.resolved_at is {'not null' if resolved else 'null'})"
        )
    if mentioning:
        clauses.append(f"c.id in (select comment_id from {MENTIONS} where actor_id = :mentioning)")
        params["mentioning"] = mentioning
    if before_id is not None:
        clauses.append(f"{order} < :before_id")
        params["before_id"] = before_id
    rows = await internal(datasette).execute(
        f"select {COMMENT_COLUMNS}, {THREAD_COLUMNS} from {source}"
        f" join {THREADS} t on t.id = c.thread_id where {' and '.join(clauses)}"
        f" order by {order} desc limit :limit",
        params,
    )
    return [dict(row) for row in rows]


async def inbox(datasette, actor_id, scope, *, unread_only=False, before_id=None, limit=50):
    clauses = ["i.actor_id = :actor_id", "c.deleted_at is null", in_scope("c")]
    params = {"actor_id": actor_id, "scope": json.dumps(scope), "limit": limit}
    if unread_only:
        clauses.append("i.read_at is null")
    if before_id is not None:
        clauses.append("i.id < :before_id")
        params["before_id"] = before_id
    rows = await internal(datasette).execute(
        f"select i.id as inbox_id, i.reason, i.read_at, {COMMENT_COLUMNS}, {THREAD_COLUMNS}"
        f" from {INBOX} i join {COMMENTS} c on c.id = i.comment_id"
        f" join {THREADS} t on t.id = c.thread_id where {' and '.join(clauses)}"
        " order by i.id desc limit :limit",
        params,
    )
    return [dict(row) for row in rows]


async def unread_count(datasette, actor_id, scope):
    row = (
        await internal(datasette).execute(
            f"select count(*) from {INBOX} i"
            f" where i.actor_id = :actor_id and i.read_at is null and {in_scope('i')}",
            {"actor_id": actor_id, "scope": json.dumps(scope)},
        )
    ).first()
    return row[0]


async def known_authors(datasette, scope, prefix, limit=10):
    """Ids starting with ``prefix`` of actors who wrote at least one comment in scope."""
    rows = await internal(datasette).execute(
        f"select a.author_id from (select distinct author_id from {COMMENTS}"
        "  where author_id >= :low and author_id < :high order by author_id) a"
        f" where exists (select 1 from {COMMENTS} c where c.author_id = a.author_id"
        f"  and {in_scope('c')}) limit :limit",
        # every string that starts with prefix sorts between prefix and prefix + U+10FFFF
        {"low": prefix, "high": prefix + "\U0010ffff", "scope": json.dumps(scope), "limit": limit},
    )
    return [row[0] for row in rows]
