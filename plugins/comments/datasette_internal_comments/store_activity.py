"""SQL for lists that span targets: activity and search, the inbox, unread counts, authors.

Reads take a ``scope``: a list of ``[database, table]`` pairs the reader may see comments on
(``table`` is ``""`` for database-level threads), built by ``access.visible_scope``. Queries
filter on it in SQL, so nothing outside the scope is ever read, counted or returned. Lists are
keyset-paged newest first: ``before_id`` is the id of the last row of the previous page.
"""

import json

from datasette_internal_db import read_on_loop
from datasette_internal_db.text import fts_query

from .migrations import COMMENTS, FTS, INBOX, MENTIONS, THREADS
from .store import COMMENT_COLUMNS, THREAD_COLUMNS, internal, read_while_unchanged


# Unary plus keeps SQLite from driving the query through the (database, table) index for every
# visible pair and then sorting: reads walk comments newest first and check each against this.
def in_scope(alias):
    return (
        f"(+{alias}.database_name, +{alias}.table_name) in"
        " (select json_extract(value, '$[0]'), json_extract(value, '$[1]') from json_each(:scope))"
    )


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


UNREAD_MENTIONS = (
    f"select database_name, table_name, count(*) from {INBOX}"
    " where actor_id = :actor_id and read_at is null and reason = 'mention'"
    " group by database_name, table_name"
)


def _unread_mentions_by_target(conn, actor_id):
    rows = conn.execute(UNREAD_MENTIONS, {"actor_id": actor_id})
    return {(row[0], row[1]): row[2] for row in rows}


async def unread_mentions_by_target(datasette, actor_id):
    """``{(database, table): n}`` of the actor's unread mentions: the inbox index's unread range
    for one actor, usually empty. Callers drop the targets the actor may not see."""
    return await read_on_loop(datasette, lambda conn: _unread_mentions_by_target(conn, actor_id))


# What a table page shows, as one statement with one result row (a single SQLite step, and no
# Python object per row): the thread counts of the rows shown as the JSON object the page
# carries, {row_key: {"threads": n, "open": m}} (store.BADGE_COUNTS' answer), and the reader's
# unread mentions by target as [[database, table, n], ...] (UNREAD_MENTIONS' answer).
TABLE_PAGE_READS = (
    "select (select json_group_object(row_key, json_object('threads', threads, 'open', open))"
    f"  from (select row_key, count(*) as threads, sum(resolved_at is null) as open from {THREADS}"
    "   where database_name = :database and table_name = :table"
    "   and row_key in (select value from json_each(:row_keys)) group by row_key)),"
    " (select json_group_array(json_array(database_name, table_name, mentions))"
    f"  from (select database_name, table_name, count(*) as mentions from {INBOX}"
    "   where actor_id = :actor_id and read_at is null and reason = 'mention'"
    "   group by database_name, table_name))"
)


async def table_page_reads(datasette, database, table, row_keys, actor_id):
    """What a table page shows, in one read: the thread counts of the rows shown as JSON text
    (for the page's script as it is) and the reader's unread mentions by target. Kept while the
    internal DB is unchanged (``store.read_while_unchanged``): a page shown again costs no query."""
    if not row_keys and actor_id is None:
        return "{}", {}
    params = {
        "database": database,
        "table": table,
        "row_keys": json.dumps(row_keys),
        "actor_id": actor_id,
    }

    def read(conn):
        counts, unread = conn.execute(TABLE_PAGE_READS, params).fetchone()
        return counts, {(where, what): n for where, what, n in json.loads(unread)}

    key = (database, table, params["row_keys"], actor_id)
    return await read_while_unchanged(datasette, "table pages", key, read)


async def mark_read(datasette, actor_id, inbox_ids, now):
    """Mark the actor's inbox entries read: the ids given, or all of them for None."""
    sql = f"update {INBOX} set read_at = :now where actor_id = :actor_id and read_at is null"
    params = {"now": now, "actor_id": actor_id}
    if inbox_ids is not None:
        sql += " and id in (select value from json_each(:ids))"
        params["ids"] = json.dumps(inbox_ids)
    return (await internal(datasette).execute_write(sql, params)).rowcount


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
