"""HTTP: the JSON API under /-/comments/api/ and the HTML pages under /-/comments.

Every route: parse input → load the target → permission check → store. Write routes accept a
JSON object, or a plain HTML form (answered with a redirect to a same-site ``next`` path).
"""

import asyncio
import functools
import json
import sqlite3
import urllib.parse

from datasette.database import QueryInterrupted
from datasette.utils import urlsafe_components
from datasette.utils.asgi import Response
from datasette_internal_db import InvalidInput, audit, clock
from datasette_internal_db.paths import UnsafePath, local_path
from datasette_internal_db.web import (
    MAX_SQLITE_INTEGER,
    int_param,
    json_error,
    parse_int,
    parse_json_object,
    read_body,
)

from . import access, store
from .access import ADD, MODERATE, VIEW
from .actors import actors_for
from .events import (
    CommentAddedEvent,
    CommentDeletedEvent,
    CommentEditedEvent,
    ThreadReopenedEvent,
    ThreadResolvedEvent,
    event_for,
)
from .migrations import PLUGIN
from .rendering import REACTIONS, comment_html, prepare, render
from .settings import comments_enabled

MAX_FORM_BYTES = 64 * 1024
MAX_BADGE_ROWS = 1000
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# One message whether a target is missing or hidden from this actor, so that neither the answer
# nor its wording tells whether a private database or table exists.
NOT_VISIBLE = "Not found, or you may not see comments here"


def not_found(what=NOT_VISIBLE):
    return ApiError(404, what)


FORM_FLAG = "datasette_internal_comments_form"


def is_form(request):
    """Was this a browser form post? Known once ``read_input`` has looked at the body."""
    if FORM_FLAG in request.scope:
        return request.scope[FORM_FLAG]
    content_type = request.headers.get("content-type", "")
    return content_type.startswith("application/x-www-form-urlencoded")


def wants_redirect(request):
    return is_form(request) and "application/json" not in request.headers.get("accept", "")


def safe_next(value, fallback):
    """``value`` as a same-site path to go back to (core's local_path: percent-encoded ASCII);
    anything else, or anything that could leave the site, becomes ``fallback``.

    A fallback and not a 400: the write it follows has already been stored.
    """
    try:
        return local_path(value, name="next")
    except UnsafePath:
        return fallback


async def read_input(request):
    """The request's fields from a JSON object or a form body; ``{}`` for an empty body.

    ``curl -d '{...}'`` labels JSON as a form, so a body starting with ``{`` is read as JSON
    whatever its content type says.
    """
    body = await read_body(request)
    form = is_form(request) and not body.lstrip().startswith(b"{")
    request.scope[FORM_FLAG] = form
    if form:
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInput(f"Request body is larger than {MAX_FORM_BYTES} bytes")
        try:
            return dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise InvalidInput("Form body is not valid UTF-8") from None
    if not body.strip():
        return {}
    return parse_json_object(body)


def route(handler):
    """Turn ApiError / InvalidInput into ``{"ok": false, "errors": [...]}`` (or an HTML page)."""

    @functools.wraps(handler)
    async def wrapped(datasette, request):
        try:
            return await handler(datasette, request)
        except (ApiError, InvalidInput, QueryInterrupted, sqlite3.OperationalError) as error:
            status = getattr(error, "status", 400)
            message = str(error)
            if isinstance(error, QueryInterrupted):
                status, message = 503, "The query took too long; narrow the filters"
            elif isinstance(error, sqlite3.OperationalError):
                # A refused write rolled back whole: say so plainly instead of a 500.
                if "full" in message:
                    status, message = 507, "The internal database is full; nothing was stored"
                elif "locked" in message:
                    status, message = 503, "The internal database is busy; try again"
                else:
                    raise
            if wants_redirect(request) or request.headers.get("accept", "").startswith("text/html"):
                return Response.html(
                    await datasette.render_template(
                        "error.html",
                        {"error": message, "status": status, "title": f"Error {status}"},
                        request,
                    ),
                    status=status,
                )
            return json_error(status, message)

    return wrapped


def reply_to(request, data, payload, fallback):
    if wants_redirect(request):
        return Response.redirect(safe_next(data.get("next"), fallback), status=303)
    return Response.json({"ok": True, **payload})


def optional_str(data, key):
    value = data.get(key)
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"'{key}' must be a string")
    return value


# ---------------------------------------------------------------------------- targets


def is_key_value(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_SQLITE_INTEGER
    return isinstance(value, (str, float))


def decode_row(row):
    """Primary-key values from a list, or from a row path as in Datasette's row URLs."""
    if isinstance(row, str):
        return urlsafe_components(row)
    if isinstance(row, list) and row and all(is_key_value(value) for value in row):
        return row
    raise InvalidInput("'row' must be a row path string or a non-empty list of primary key values")


async def check(datasette, actor, action, database, table="", recent=False):
    """404 when the actor may not see the target at all, 403 when they lack ``action``.

    ``recent``: read paths may take verdicts answered within the last second (see access.py).
    """
    # All three actions in one query: threads_json asks for them next, from the request cache.
    if recent:
        allowed = await access.recent_verdicts(datasette, actor, database, table)
    else:
        allowed = await access.verdicts(datasette, actor, database, table)
    if not allowed[VIEW]:
        raise not_found()
    if not allowed[action]:
        raise ApiError(403, f"Permission denied: {action} is required")


async def resolve_target(datasette, actor, data):
    """The target a new thread goes on, checked for existence and for ``comments-add``."""
    database = optional_str(data, "database")
    table = optional_str(data, "table")
    column = optional_str(data, "column")
    row = data.get("row")
    if row == "":
        row = None
    if not database:
        raise InvalidInput("'database' is required")
    if (column or row is not None) and not table:
        raise InvalidInput("'column' and 'row' need a 'table'")
    pk_values = decode_row(row) if row is not None else None
    if database not in datasette.databases:
        raise not_found()
    if table:
        matches = [
            name
            for name in await store.table_names(datasette, database)
            if name.lower() == table.lower()
        ]
        if not matches:
            raise not_found()
        table = matches[0]
    await check(datasette, actor, ADD, database, table)
    target = {
        "type": "database",
        "database": database,
        "table": table,
        "column": column,
        "row_key": "",
        "row_pks": None,
        "row_label": None,
        "anchor_value": None,
    }
    if table:
        target["type"] = "table"
    if column:
        if column not in await store.column_names(datasette, database, table):
            raise not_found(f"Column {column!r} not found")
        target["type"] = "column"
    if pk_values is not None:
        found, pk_columns = await store.fetch_row(datasette, database, table, pk_values)
        if found is None:
            raise not_found("Row not found")
        values = [found[name] for name in pk_columns]
        target.update(
            type="cell" if column else "row",
            row_key=store.row_key_for(values),
            row_pks=json.dumps(values),
            row_label=await row_label(datasette, database, table, found),
            anchor_value=store.encode_cell(found[column]) if column else None,
        )
    if not await comments_enabled(datasette, database, table):
        raise ApiError(403, "Comments are not enabled here")
    return target


async def row_label(datasette, database, table, found):
    name = await store.label_column(datasette, database, table)
    if name and found.get(name) is not None:
        return str(found[name])[:200]
    return None


# ---------------------------------------------------------------------------- presenting


def display(actors, actor_id):
    actor = actors.get(actor_id) or {"id": actor_id}
    name = actor.get("name") or actor.get("display") or actor.get("username") or actor_id
    return {"id": actor_id, "name": str(name)}


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


async def anchor_states(datasette, threads):
    """{thread_id: anchor} for row and cell threads: current, outdated or row-deleted."""
    rows = {}
    states = {}
    for thread in threads:
        if not thread["row_key"]:
            continue
        key = (thread["database_name"], thread["table_name"], thread["row_key"])
        if key not in rows:
            rows[key] = await current_row(
                datasette, thread["database_name"], thread["table_name"], thread["row_pks"]
            )
        found = rows[key]
        anchor = {"state": "current", "old_value": None, "current_value": None}
        if thread["target_type"] == "cell":
            anchor["old_value"] = json.loads(thread["anchor_value"])
        if found is None:
            anchor["state"] = "row-deleted"
        elif thread["target_type"] == "cell":
            if thread["column_name"] not in found:
                anchor["state"] = "outdated"
            else:
                current = store.encode_cell(found[thread["column_name"]])
                anchor["current_value"] = json.loads(current)
                if current != thread["anchor_value"]:
                    anchor["state"] = "outdated"
        states[thread["thread_id"]] = anchor
    return states


async def current_row(datasette, database, table, row_pks):
    """The row as it is now, or None when it (or its table, or its database) is gone."""
    if database not in datasette.databases:
        return None
    found, _ = await store.fetch_row(datasette, database, table, json.loads(row_pks))
    return found


class TargetInfo:
    """Per-call memo of what the actor may do, and whether comments are enabled, per target."""

    def __init__(self, datasette, actor):
        self.datasette = datasette
        self.actor = actor
        self.memo = {}

    async def get(self, database, table):
        key = (database, table)
        if key not in self.memo:
            # Only what the JSON says the actor may do: each write checks afresh.
            allowed = await access.recent_verdicts(self.datasette, self.actor, database, table)
            enabled = await comments_enabled(self.datasette, database, table)
            self.memo[key] = (allowed, enabled)
        return self.memo[key]


async def threads_json(datasette, actor, threads, contents=None):
    """Full JSON for threads: comments, reactions, mentions, names, anchors, what you may do.

    ``contents`` is ``store.thread_contents`` for these threads when the caller has it already.
    """
    me = access.actor_id(actor)
    targets = TargetInfo(datasette, actor)
    target_keys = {(thread["database_name"], thread["table_name"]) for thread in threads}
    # Independent reads (internal DB, the user's DB, permissions) wait on the read threads together.
    if contents is None:
        contents = await store.thread_contents(datasette, [t["thread_id"] for t in threads])
    comments, reactions, mentions = contents
    anchors, *_ = await asyncio.gather(
        anchor_states(datasette, threads),
        *(targets.get(database, table) for database, table in target_keys),
    )
    actor_ids = {t["thread_author_id"] for t in threads} | {
        t["resolved_by"] for t in threads if t["resolved_by"]
    }
    for group in comments.values():
        for comment in group:
            actor_ids.add(comment["author_id"])
            if comment["deleted_by"]:
                actor_ids.add(comment["deleted_by"])
    for ids in mentions.values():
        actor_ids.update(ids)
    actors = await actors_for(datasette, actor_ids)
    result = []
    for thread in threads:
        database, table = thread["database_name"], thread["table_name"]
        allowed, enabled = await targets.get(database, table)
        # Writing needs an actor id (require_actor), whatever the configuration grants.
        may_add = allowed[ADD] and me is not None
        may_moderate = allowed[MODERATE] and me is not None
        thread_comments = []
        for comment in comments.get(thread["thread_id"], []):
            deleted = comment["deleted_at"] is not None
            mine = me is not None and comment["author_id"] == me
            thread_comments.append(
                {
                    "id": comment["id"],
                    "author": display(actors, comment["author_id"]),
                    "body": None if deleted else comment["body"],
                    "html": "" if deleted else comment_html(comment),
                    "created_at": comment["created_at"],
                    "edited_at": comment["edited_at"],
                    "deleted": deleted,
                    "deleted_at": comment["deleted_at"],
                    "deleted_by": display(actors, comment["deleted_by"])
                    if comment["deleted_by"]
                    else None,
                    "revision_count": comment["revision_count"],
                    "reactions": reaction_summary(reactions.get(comment["id"], []), me),
                    "mentions": [display(actors, i) for i in mentions.get(comment["id"], [])],
                    "can_edit": not deleted and mine and may_add,
                    "can_delete": not deleted and ((mine and may_add) or may_moderate),
                    "can_react": not deleted and may_add and enabled,
                }
            )
        is_author = me is not None and thread["thread_author_id"] == me
        result.append(
            {
                "id": thread["thread_id"],
                "url": datasette.urls.path(f"/-/comments/threads/{thread['thread_id']}"),
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
                "comments": thread_comments,
            }
        )
    return result


def reaction_summary(rows, me):
    by_name = {row["emoji"]: row for row in rows}
    return [
        {
            "name": name,
            "emoji": emoji,
            "count": by_name[name]["count"] if name in by_name else 0,
            "reacted": name in by_name and me in by_name[name]["actor_ids"],
        }
        for name, emoji in REACTIONS.items()
    ]


async def comment_entries(datasette, rows):
    """Flat JSON for activity and inbox rows (a comment with its thread's target)."""
    actor_ids = sorted({row["author_id"] for row in rows})
    actors = await actors_for(datasette, actor_ids)
    entries = []
    for row in rows:
        entry = {
            "id": row["id"],
            "thread_id": row["thread_id"],
            "thread_url": datasette.urls.path(f"/-/comments/threads/{row['thread_id']}"),
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


# ---------------------------------------------------------------------------- loading


async def load_thread(datasette, actor, thread_id, action=VIEW):
    thread = await store.get_thread(datasette, parse_int(thread_id, "thread id", minimum=1))
    if thread is None:
        raise not_found("Thread not found")
    await check(datasette, actor, action, thread["database_name"], thread["table_name"])
    return thread


async def load_comment(datasette, actor, comment_id):
    comment = await store.get_comment(datasette, parse_int(comment_id, "comment id", minimum=1))
    if comment is None:
        raise not_found("Comment not found")
    await check(datasette, actor, VIEW, comment["database_name"], comment["table_name"])
    return comment


def require_actor(request):
    me = access.actor_id(request.actor)
    if me is None:
        raise ApiError(403, "Sign in to do this")
    return me


async def thread_payload(datasette, actor, thread_id):
    thread = await store.get_thread(datasette, thread_id)
    return (await threads_json(datasette, actor, [thread]))[0]


# ---------------------------------------------------------------------------- API: writes


@route
async def create_thread(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    target = await resolve_target(datasette, request.actor, data)
    body = prepare(data.get("body"))
    thread_id, comment_id = await store.create_thread(datasette, target, me, body, clock.iso())
    thread = await store.get_thread(datasette, thread_id)
    await datasette.track_event(event_for(CommentAddedEvent, request.actor, thread, comment_id))
    payload = {"thread": (await threads_json(datasette, request.actor, [thread]))[0]}
    return reply_to(request, data, payload, payload["thread"]["url"])


@route
async def add_reply(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"], ADD)
    if not await comments_enabled(datasette, thread["database_name"], thread["table_name"]):
        raise ApiError(403, "Comments are not enabled here")
    body = prepare(data.get("body"))
    comment_id = await store.add_comment(datasette, thread["thread_id"], me, body, clock.iso())
    await datasette.track_event(event_for(CommentAddedEvent, request.actor, thread, comment_id))
    payload = {
        "comment_id": comment_id,
        "thread": await thread_payload(datasette, request.actor, thread["thread_id"]),
    }
    return reply_to(request, data, payload, payload["thread"]["url"])


@route
async def set_resolved(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"])
    database, table = thread["database_name"], thread["table_name"]
    is_author = thread["thread_author_id"] == me
    if not (
        (is_author and await access.can(datasette, request.actor, ADD, database, table))
        or await access.can(datasette, request.actor, MODERATE, database, table)
    ):
        raise ApiError(403, "Only the thread's author or a moderator may resolve or reopen it")
    resolve = request.url_vars["verb"] == "resolve"
    if resolve != (thread["resolved_at"] is not None):
        await store.set_resolved(
            datasette, thread["thread_id"], me if resolve else None, clock.iso()
        )
        event_class = ThreadResolvedEvent if resolve else ThreadReopenedEvent
        await datasette.track_event(event_for(event_class, request.actor, thread))
    payload = {"thread": await thread_payload(datasette, request.actor, thread["thread_id"])}
    return reply_to(request, data, payload, payload["thread"]["url"])


@route
async def edit_comment(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    comment = await load_comment(datasette, request.actor, request.url_vars["comment_id"])
    if comment["author_id"] != me or not await access.can(
        datasette, request.actor, ADD, comment["database_name"], comment["table_name"]
    ):
        raise ApiError(403, "You may only edit your own comments")
    if comment["deleted_at"]:
        raise ApiError(409, "This comment was deleted")
    body = prepare(data.get("body"))
    if body.text != comment["body"]:
        await store.edit_comment(datasette, comment["id"], body, clock.iso())
        await datasette.track_event(
            event_for(CommentEditedEvent, request.actor, comment, comment["id"])
        )
    payload = {"thread": await thread_payload(datasette, request.actor, comment["thread_id"])}
    return reply_to(request, data, payload, payload["thread"]["url"])


@route
async def delete_comment(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    comment = await load_comment(datasette, request.actor, request.url_vars["comment_id"])
    database, table = comment["database_name"], comment["table_name"]
    own = comment["author_id"] == me and await access.can(
        datasette, request.actor, ADD, database, table
    )
    if not own and not await access.can(datasette, request.actor, MODERATE, database, table):
        raise ApiError(403, "You may only delete your own comments")
    if comment["deleted_at"] is None:
        await store.delete_comment(datasette, comment["id"], me, clock.iso())
        if not own:
            await audit.record(
                datasette,
                PLUGIN,
                "moderator-delete",
                actor=request.actor,
                resource="/".join(part for part in (database, table, comment["row_key"]) if part),
                details={
                    "comment_id": comment["id"],
                    "thread_id": comment["thread_id"],
                    "author_id": comment["author_id"],
                },
            )
        await datasette.track_event(
            event_for(CommentDeletedEvent, request.actor, comment, comment["id"])
        )
    payload = {"thread": await thread_payload(datasette, request.actor, comment["thread_id"])}
    return reply_to(request, data, payload, payload["thread"]["url"])


@route
async def toggle_reaction(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    comment = await load_comment(datasette, request.actor, request.url_vars["comment_id"])
    database, table = comment["database_name"], comment["table_name"]
    await check(datasette, request.actor, ADD, database, table)
    if not await comments_enabled(datasette, database, table):
        raise ApiError(403, "Comments are not enabled here")
    emoji = data.get("emoji")
    if not isinstance(emoji, str) or emoji not in REACTIONS:
        raise InvalidInput(f"'emoji' must be one of: {', '.join(REACTIONS)}")
    if comment["deleted_at"]:
        raise ApiError(409, "This comment was deleted")
    added = await store.toggle_reaction(datasette, comment["id"], me, emoji, clock.iso())
    payload = {
        "added": added,
        "thread": await thread_payload(datasette, request.actor, comment["thread_id"]),
    }
    return reply_to(request, data, payload, payload["thread"]["url"])


@route
async def mark_inbox_read(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    if data.get("all") in (True, "1", "true", "on"):
        ids = None
    else:
        ids = data.get("ids")
        if isinstance(ids, str):
            ids = [part for part in ids.split(",") if part]
        if not isinstance(ids, list) or not ids:
            raise InvalidInput("Give 'ids' (a list of inbox entry ids) or 'all': true")
        ids = [parse_int(value, "ids", minimum=1) for value in ids]
    marked = await store.mark_read(datasette, me, ids, clock.iso())
    scope = await access.visible_scope(datasette, request.actor)
    payload = {"marked": marked, "unread_count": await store.unread_count(datasette, me, scope)}
    return reply_to(request, data, payload, datasette.urls.path("/-/comments/inbox"))


# ---------------------------------------------------------------------------- API: reads


def target_filters(request):
    args = request.args
    return {
        "database": args.get("database") or "",
        "table": args.get("table") or "",
        "column": args.get("column") or "",
        "row": args.get("row") or "",
    }


@route
async def list_threads(datasette, request):
    target = target_filters(request)
    if not target["database"]:
        raise InvalidInput("'database' is required")
    # The permission query and the read wait on the read threads together; nothing read is
    # returned unless the check passed (it raises otherwise).
    _, (threads, contents) = await asyncio.gather(
        check(datasette, request.actor, VIEW, target["database"], target["table"], recent=True),
        store.threads_for_target(
            datasette, target["database"], target["table"], target["column"], target["row"]
        ),
    )
    return Response.json(
        {"ok": True, "threads": await threads_json(datasette, request.actor, threads, contents)}
    )


@route
async def get_thread(datasette, request):
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"])
    return Response.json(
        {"ok": True, "thread": (await threads_json(datasette, request.actor, [thread]))[0]}
    )


@route
async def comment_revisions(datasette, request):
    comment = await load_comment(datasette, request.actor, request.url_vars["comment_id"])
    if comment["deleted_at"]:
        raise not_found("Comment not found")
    revisions = await store.revisions(datasette, comment["id"])
    return Response.json(
        {
            "ok": True,
            "comment_id": comment["id"],
            "body": comment["body"],
            "revisions": [
                {
                    "id": revision["id"],
                    "body": revision["body"],
                    "html": render(revision["body"]),
                    "replaced_at": revision["replaced_at"],
                }
                for revision in revisions
            ],
        }
    )


@route
async def badges(datasette, request):
    database = request.args.get("database") or ""
    table = request.args.get("table") or ""
    row_keys = request.args.getlist("row")
    if not database or not table:
        raise InvalidInput("'database' and 'table' are required")
    if len(row_keys) > MAX_BADGE_ROWS:
        raise InvalidInput(f"At most {MAX_BADGE_ROWS} rows per request")
    await check(datasette, request.actor, VIEW, database, table)
    counts = await store.badge_counts(datasette, database, table, row_keys)
    return Response.json({"ok": True, "counts": counts})


def paging_args(request):
    limit = int_param(request, "limit", PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
    return limit, int_param(request, "before", minimum=1)


def activity_filters(request):
    args = request.args
    resolved = args.get("resolved") or ""
    if resolved not in ("", "yes", "no"):
        raise InvalidInput("'resolved' must be 'yes' or 'no'")
    mentions = args.get("mentions") or ""
    if mentions not in ("", "me"):
        raise InvalidInput("'mentions' may only be 'me'")
    if mentions and access.actor_id(request.actor) is None:
        raise ApiError(403, "Sign in to filter by mentions")
    return {
        "query": (args.get("q") or "").strip()[:500],
        "author": args.get("author") or None,
        "database": args.get("database") or None,
        "table": args.get("table") or None,
        "resolved": {"yes": True, "no": False}.get(resolved),
        "mentioning": access.actor_id(request.actor) if mentions else None,
    }


async def activity_page(datasette, request):
    filters = activity_filters(request)
    limit, before = paging_args(request)
    scope = await access.visible_scope(datasette, request.actor)
    rows = await store.activity(datasette, scope, **filters, before_id=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "comments": await comment_entries(datasette, rows),
        "next": rows[-1]["id"] if more else None,
    }


@route
async def activity_api(datasette, request):
    return Response.json({"ok": True, **await activity_page(datasette, request)})


async def inbox_page(datasette, request):
    me = require_actor(request)
    limit, before = paging_args(request)
    unread_only = request.args.get("unread") in ("1", "yes", "true")
    scope = await access.visible_scope(datasette, request.actor)
    rows = await store.inbox(
        datasette, me, scope, unread_only=unread_only, before_id=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "unread_count": await store.unread_count(datasette, me, scope),
        "entries": await comment_entries(datasette, rows),
        "next": rows[-1]["inbox_id"] if more else None,
    }


@route
async def inbox_api(datasette, request):
    return Response.json({"ok": True, **await inbox_page(datasette, request)})


@route
async def actors_api(datasette, request):
    prefix = (request.args.get("q") or "").lstrip("@")[:64]
    scope = await access.visible_scope(datasette, request.actor)
    ids = await store.known_authors(datasette, scope, prefix) if scope else []
    actors = await actors_for(datasette, ids)
    return Response.json({"ok": True, "actors": [display(actors, i) for i in ids]})


# ---------------------------------------------------------------------------- HTML pages


async def render_page(datasette, request, template, context):
    return Response.html(await datasette.render_template(template, context, request))


def query_string(args, **changes):
    merged = {key: value for key, value in args.items() if value}
    merged.update({key: value for key, value in changes.items() if value is not None})
    return urllib.parse.urlencode(merged)


@route
async def activity_html(datasette, request):
    page = await activity_page(datasette, request)
    next_url = None
    if page["next"]:
        next_url = "?" + query_string(
            dict(urllib.parse.parse_qsl(request.query_string)), before=str(page["next"])
        )
    return await render_page(
        datasette,
        request,
        "comments_activity.html",
        {**page, "args": request.args, "next_url": next_url, "signed_in": bool(request.actor)},
    )


@route
async def inbox_html(datasette, request):
    page = await inbox_page(datasette, request)
    next_url = None
    if page["next"]:
        next_url = "?" + query_string(
            dict(urllib.parse.parse_qsl(request.query_string)), before=str(page["next"])
        )
    return await render_page(
        datasette, request, "comments_inbox.html", {**page, "next_url": next_url}
    )


@route
async def thread_html(datasette, request):
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"])
    payload = (await threads_json(datasette, request.actor, [thread]))[0]
    revisions = {}
    for comment in payload["comments"]:
        if comment["revision_count"]:
            revisions[comment["id"]] = [
                dict(revision, html=render(revision["body"]))
                for revision in await store.revisions(datasette, comment["id"])
            ]
    return await render_page(
        datasette,
        request,
        "comments_thread_page.html",
        {
            "thread": payload,
            "revisions": revisions,
            "reactions": REACTIONS,
            "next": request.path,
        },
    )


async def panel_context(datasette, request, database, table, row_key, column=""):
    """Context of comments_panel.html: the threads of one target and the form for a new one."""
    actor = request.actor
    threads, contents = await store.threads_for_target(datasette, database, table, column, row_key)
    columns = await store.column_names(datasette, database, table) if table else []
    may_add = await access.can(datasette, actor, ADD, database, table)
    return {
        "threads": await threads_json(datasette, actor, threads, contents),
        "panel_target": {"database": database, "table": table, "row": row_key, "column": column},
        "columns": columns,
        "can_add": may_add
        and access.actor_id(actor) is not None
        and await comments_enabled(datasette, database, table),
        "signed_in": access.actor_id(actor) is not None,
        "reactions": REACTIONS,
        "fragment_url": datasette.urls.path(
            "/-/comments/target?"
            + query_string(
                {
                    "database": database,
                    "table": table,
                    "row": row_key,
                    "column": column,
                    "fragment": "1",
                }
            )
        ),
    }


@route
async def target_html(datasette, request):
    """The threads on one target with a form to start one; ``fragment=1`` for the table page JS."""
    target = target_filters(request)
    database, table = target["database"], target["table"]
    if not database:
        raise InvalidInput("'database' is required")
    await check(datasette, request.actor, VIEW, database, table)
    if table and table not in await store.table_names(datasette, database):
        raise not_found("Table not found")
    context = await panel_context(
        datasette, request, database, table, target["row"], target["column"]
    )
    if request.args.get("fragment"):
        context["next"] = safe_next(request.args.get("next"), request.path)
        return await render_page(datasette, request, "comments_panel.html", context)
    context["next"] = request.full_path
    return await render_page(datasette, request, "comments_target_page.html", context)


def by_method(**handlers):
    async def dispatch(datasette, request):
        handler = handlers.get(request.method.lower())
        if handler is None:
            allowed = ", ".join(name.upper() for name in handlers)
            return json_error(405, f"Method {request.method} not allowed; use {allowed}")
        return await handler(datasette, request)

    return dispatch


THREAD = r"^/-/comments/api/threads/(?P<thread_id>[0-9]+)"
COMMENT = r"^/-/comments/api/comments/(?P<comment_id>[0-9]+)"

routes = [
    (r"^/-/comments\Z", by_method(get=activity_html)),
    (r"^/-/comments/inbox\Z", by_method(get=inbox_html)),
    (r"^/-/comments/target\Z", by_method(get=target_html)),
    (r"^/-/comments/threads/(?P<thread_id>[0-9]+)\Z", by_method(get=thread_html)),
    (r"^/-/comments/api/threads\Z", by_method(get=list_threads, post=create_thread)),
    (THREAD + r"\Z", by_method(get=get_thread)),
    (THREAD + r"/comments\Z", by_method(post=add_reply)),
    (THREAD + r"/(?P<verb>resolve|reopen)\Z", by_method(post=set_resolved)),
    (COMMENT + r"/edit\Z", by_method(post=edit_comment)),
    (COMMENT + r"/delete\Z", by_method(post=delete_comment)),
    (COMMENT + r"/reactions\Z", by_method(post=toggle_reaction)),
    (COMMENT + r"/revisions\Z", by_method(get=comment_revisions)),
    (r"^/-/comments/api/badges\Z", by_method(get=badges)),
    (r"^/-/comments/api/activity\Z", by_method(get=activity_api)),
    (r"^/-/comments/api/inbox\Z", by_method(get=inbox_api)),
    (r"^/-/comments/api/inbox/read\Z", by_method(post=mark_inbox_read)),
    (r"^/-/comments/api/actors\Z", by_method(get=actors_api)),
]
