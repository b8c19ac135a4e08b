"""The JSON shape of threads and comments, shared by the API and the pages: comments,
reactions, mentions, names, anchors, and what the reader may do."""

import json

from . import access, store
from .access import ADD, MODERATE
from .actors import actors_for, display, shown_actors
from .rendering import REACTIONS, comment_html
from .settings import comments_enabled
from .targets import anchor_states


def thread_url(datasette, thread_id):
    return datasette.urls.path(f"/-/comments/threads/{thread_id}")


def target_json(datasette, thread):
    database, table = thread["database_name"], thread["table_name"]
    row_key = thread["row_key"]
    if row_key:
        url = datasette.urls.row(database, table, row_key)
    elif table:
        url = datasette.urls.table(database, table)
    else:
        url = datasette.urls.database(database)
    return {
        "type": thread["target_type"],
        "database": database,
        "table": table or None,
        "column": thread["column_name"] or None,
        "row": row_key or None,
        "row_pks": json.loads(thread["row_pks"]) if thread["row_pks"] else None,
        "label": thread["row_label"],
        "url": url,
    }


def reaction_summary(rows, me):
    """The reactions in use, in the fixed set's order. Not the unused ones with a count of 0:
    they were half of a thread's JSON, and the set is fixed (``REACTIONS``, the README)."""
    if not rows:  # most comments
        return []
    by_name = {row["emoji"]: row for row in rows}
    return [
        {
            "name": name,
            "emoji": emoji,
            "count": by_name[name]["count"],
            "reacted": me in by_name[name]["actor_ids"],
        }
        for name, emoji in REACTIONS.items()
        if name in by_name
    ]


class TargetInfo:
    """Per-call memo of what the actor may do, and whether comments are enabled, per target."""

    def __init__(self, datasette, actor, verdicts=None):
        self.datasette = datasette
        self.actor = actor
        self.verdicts = dict(verdicts or {})
        self.memo = {}

    async def get(self, database, table):
        key = (database, table)
        if key not in self.memo:
            # Only what the JSON says the actor may do: each write checks afresh.
            allowed = self.verdicts.get(key)
            if allowed is None:
                allowed = await access.recent_verdicts(self.datasette, self.actor, database, table)
            enabled = await comments_enabled(self.datasette, database, table)
            self.memo[key] = (allowed, enabled)
        return self.memo[key]


def actor_ids_in(threads, comments, mentions):
    ids = {t["thread_author_id"] for t in threads} | {
        t["resolved_by"] for t in threads if t["resolved_by"]
    }
    for group in comments.values():
        for comment in group:
            ids.add(comment["author_id"])
            if comment["deleted_by"]:
                ids.add(comment["deleted_by"])
    for mentioned in mentions.values():
        ids.update(mentioned)
    return ids


def comment_json(comment, actors, reactions, mentions, me, may_add, may_moderate, enabled):
    deleted = comment["deleted_at"] is not None
    mine = me is not None and comment["author_id"] == me
    return {
        "id": comment["id"],
        "author": display(actors, comment["author_id"]),
        "body": None if deleted else comment["body"],
        "html": "" if deleted else comment_html(comment),
        "created_at": comment["created_at"],
        "edited_at": comment["edited_at"],
        "deleted": deleted,
        "deleted_at": comment["deleted_at"],
        "deleted_by": display(actors, comment["deleted_by"]) if comment["deleted_by"] else None,
        "revision_count": comment["revision_count"],
        "reactions": reaction_summary(reactions.get(comment["id"], []), me),
        "mentions": [display(actors, i) for i in mentions.get(comment["id"], [])],
        "can_edit": not deleted and mine and may_add,
        "can_delete": not deleted and ((mine and may_add) or may_moderate),
        "can_react": not deleted and may_add and enabled,
    }


async def threads_json(datasette, actor, threads, contents=None, rows=None, verdicts=None):
    """Full JSON for threads: comments, reactions, mentions, names, anchors, what you may do.

    ``contents`` is ``store.thread_contents`` for these threads and ``rows`` their target rows
    as they are now (``targets.rows_now``), when the caller has them already; ``verdicts``
    ``{(database, table): recent verdicts}`` the caller's ``check`` already had.
    """
    me = access.actor_id(actor)
    targets = TargetInfo(datasette, actor, verdicts)
    if contents is None:
        contents = await store.thread_contents(datasette, [t["thread_id"] for t in threads])
    comments, reactions, mentions = contents
    # Rows are read on the event loop and verdicts are kept answers: one after the other.
    anchors = await anchor_states(datasette, threads, rows)
    actors = await shown_actors(datasette, actor_ids_in(threads, comments, mentions))
    result = []
    for thread in threads:
        allowed, enabled = await targets.get(thread["database_name"], thread["table_name"])
        # Writing needs an actor id (require_actor), whatever the configuration grants.
        may_add = allowed[ADD] and me is not None
        may_moderate = allowed[MODERATE] and me is not None
        is_author = me is not None and thread["thread_author_id"] == me
        result.append(
            {
                "id": thread["thread_id"],
                "url": thread_url(datasette, thread["thread_id"]),
                "target": target_json(datasette, thread),
                "author": display(actors, thread["thread_author_id"]),
                "created_at": thread["thread_created_at"],
                "last_activity_at": thread["last_activity_at"],
                "resolved": thread["resolved_at"] is not None,
                "resolved_at": thread["resolved_at"],
                "resolved_by": display(actors, thread["resolved_by"])
                if thread["resolved_by"]
                else None,
                "anchor": anchors.get(thread["thread_id"]),
                "can_reply": may_add and enabled,
                "can_resolve": (is_author and may_add) or may_moderate,
                "comments": [
                    comment_json(
                        comment, actors, reactions, mentions, me, may_add, may_moderate, enabled
                    )
                    for comment in comments.get(thread["thread_id"], [])
                ],
            }
        )
    return result


async def thread_payload(datasette, actor, thread_id):
    thread = await store.get_thread(datasette, thread_id)
    return (await threads_json(datasette, actor, [thread]))[0]


async def comment_entries(datasette, rows):
    """Flat JSON for activity and inbox rows (a comment with its thread's target)."""
    actors = await actors_for(datasette, {row["author_id"] for row in rows})
    entries = []
    for row in rows:
        entry = {
            "id": row["id"],
            "thread_id": row["thread_id"],
            "thread_url": thread_url(datasette, row["thread_id"]),
            "author": display(actors, row["author_id"]),
            "body": row["body"],
            "html": comment_html(row),
            "created_at": row["created_at"],
            "edited_at": row["edited_at"],
            "resolved": row["resolved_at"] is not None,
            "target": target_json(datasette, row),
        }
        if "inbox_id" in row:
            entry.update(inbox_id=row["inbox_id"], reason=row["reason"], read=bool(row["read_at"]))
        entries.append(entry)
    return entries
