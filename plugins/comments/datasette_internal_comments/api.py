"""The JSON API of threads and comments under /-/comments/api/: start, list and read threads,
reply, resolve, reopen; edit, delete, react, revisions.

Every route: parse input → load the target → permission check → store. Writes take a JSON
object or a browser form (forms.py).
"""

from datasette.utils.asgi import Forbidden, NotFound, Response
from datasette_internal_db import Conflict, InvalidInput, clock, json_response, route
from datasette_internal_db.web import parse_int

from . import access, outbox, store
from .access import ADD, MODERATE, VIEW
from .events import (
    CommentAddedEvent,
    CommentDeletedEvent,
    CommentEditedEvent,
    ThreadReopenedEvent,
    ThreadResolvedEvent,
    event_for,
)
from .forms import read_input, reply_to, require_actor
from .presenting import thread_payload, threads_json
from .rendering import REACTIONS, prepare, render
from .settings import comments_enabled, plugin
from .targets import NOT_ENABLED, NOT_VISIBLE, check, require_table, resolve_target, rows_now

DELETED = "This comment was deleted"


async def load_thread(datasette, actor, thread_id, action=VIEW):
    thread = await store.get_thread(datasette, parse_int(thread_id, "thread id", minimum=1))
    if thread is None:
        raise NotFound(NOT_VISIBLE)
    await check(datasette, actor, action, thread["database_name"], thread["table_name"])
    return thread


async def comment_write(datasette, request):
    """``(me, data, comment)`` for a write on one comment: signed in, input read, comment seen."""
    me = require_actor(request)
    data = await read_input(request)
    comment = await load_comment(datasette, request.actor, request.url_vars["comment_id"])
    return me, data, comment


async def load_comment(datasette, actor, comment_id):
    comment = await store.get_comment(datasette, parse_int(comment_id, "comment id", minimum=1))
    if comment is None:
        raise NotFound(NOT_VISIBLE)
    await check(datasette, actor, VIEW, comment["database_name"], comment["table_name"])
    return comment


async def answer(datasette, request, data, thread_id, **extra):
    """The thread as it is now, as JSON (with ``extra``), or a redirect for a browser form."""
    payload = {**extra, "thread": await thread_payload(datasette, request.actor, thread_id)}
    return reply_to(request, data, payload, payload["thread"]["url"])


def target_filters(request):
    args = request.args
    return {
        "database": args.get("database") or "",
        "table": args.get("table") or "",
        "column": args.get("column") or "",
        "row": args.get("row") or "",
    }


# ---------------------------------------------------------------------------- threads


@route(methods=("GET", "POST"))
async def threads_api(datasette, request):
    """GET: the threads of one target. POST: start a thread."""
    if request.method == "POST":
        return await create_thread(datasette, request)
    target = target_filters(request)
    if not target["database"]:
        raise InvalidInput("'database' is required")
    # Checked before anything is read. The check is usually a kept answer and both reads are
    # made on the event loop, so one after the other nothing waits: gathering them only added
    # tasks and turns of the loop. Every thread is on this target: the check's verdicts say
    # what the reader may do in each.
    database, table, row = target["database"], target["table"], target["row"]
    allowed = await check(datasette, request.actor, VIEW, database, table, recent=True)
    threads, contents = await store.threads_for_target(
        datasette, database, table, target["column"], row
    )
    if table and not threads:
        await require_table(datasette, database, table)
    rows = await rows_now(datasette, database, table, row) if threads else {}
    payload = await threads_json(
        datasette, request.actor, threads, contents, rows, {(database, table): allowed}
    )
    return json_response({"ok": True, "threads": payload})


async def create_thread(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    target = await resolve_target(datasette, request.actor, data)
    body = prepare(data.get("body"))
    thread_id, comment_id = await store.create_thread(
        datasette, target, me, body, clock.iso(), email=outbox.enabled(datasette)
    )
    outbox.wake(datasette)
    thread = await store.get_thread(datasette, thread_id)
    await datasette.track_event(event_for(CommentAddedEvent, request.actor, thread, comment_id))
    return await answer(datasette, request, data, thread_id)


@route()
async def thread_api(datasette, request):
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"])
    return json_response(
        {"ok": True, "thread": (await threads_json(datasette, request.actor, [thread]))[0]}
    )


@route(methods=("POST",))
async def reply_api(datasette, request):
    me = require_actor(request)
    data = await read_input(request)
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"], ADD)
    if not await comments_enabled(datasette, thread["database_name"], thread["table_name"]):
        raise Forbidden(NOT_ENABLED)
    body = prepare(data.get("body"))
    comment_id = await store.add_comment(
        datasette, thread["thread_id"], me, body, clock.iso(), email=outbox.enabled(datasette)
    )
    outbox.wake(datasette)
    await datasette.track_event(event_for(CommentAddedEvent, request.actor, thread, comment_id))
    return await answer(datasette, request, data, thread["thread_id"], comment_id=comment_id)


@route(methods=("POST",))
async def resolve_api(datasette, request):
    """POST …/resolve or …/reopen: by the thread's author or a moderator."""
    me = require_actor(request)
    data = await read_input(request)
    thread = await load_thread(datasette, request.actor, request.url_vars["thread_id"])
    database, table = thread["database_name"], thread["table_name"]
    is_author = thread["thread_author_id"] == me
    if not (
        (is_author and await access.can(datasette, request.actor, ADD, database, table))
        or await access.can(datasette, request.actor, MODERATE, database, table)
    ):
        raise Forbidden("Only the thread's author or a moderator may resolve or reopen it")
    resolve = request.url_vars["verb"] == "resolve"
    if resolve != (thread["resolved_at"] is not None):
        await store.set_resolved(
            datasette, thread["thread_id"], me, resolve, clock.iso(), outbox.enabled(datasette)
        )
        outbox.wake(datasette)
        event_class = ThreadResolvedEvent if resolve else ThreadReopenedEvent
        await datasette.track_event(event_for(event_class, request.actor, thread))
    return await answer(datasette, request, data, thread["thread_id"])


# ---------------------------------------------------------------------------- comments


async def is_own(datasette, actor, me, comment):
    """Did ``me`` write ``comment``, and may they still comment where it is?"""
    return comment["author_id"] == me and await access.can(
        datasette, actor, ADD, comment["database_name"], comment["table_name"]
    )


@route(methods=("POST",))
async def edit_api(datasette, request):
    me, data, comment = await comment_write(datasette, request)
    if not await is_own(datasette, request.actor, me, comment):
        raise Forbidden("You may only edit your own comments")
    if comment["deleted_at"]:
        raise Conflict(DELETED)
    body = prepare(data.get("body"))
    if body.text != comment["body"]:
        await store.edit_comment(
            datasette, comment["id"], body, clock.iso(), email=outbox.enabled(datasette)
        )
        outbox.wake(datasette)
        await datasette.track_event(
            event_for(CommentEditedEvent, request.actor, comment, comment["id"])
        )
    return await answer(datasette, request, data, comment["thread_id"])


@route(methods=("POST",))
async def delete_api(datasette, request):
    me, data, comment = await comment_write(datasette, request)
    database, table = comment["database_name"], comment["table_name"]
    own = await is_own(datasette, request.actor, me, comment)
    if not own and not await access.can(datasette, request.actor, MODERATE, database, table):
        raise Forbidden("You may only delete your own comments")
    if comment["deleted_at"] is None:
        await store.delete_comment(datasette, comment["id"], me, clock.iso())
        if not own:
            await plugin.audit.record(
                datasette,
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
    return await answer(datasette, request, data, comment["thread_id"])


@route(methods=("POST",))
async def reaction_api(datasette, request):
    """Toggle one of the eight reactions on a comment."""
    me, data, comment = await comment_write(datasette, request)
    database, table = comment["database_name"], comment["table_name"]
    await check(datasette, request.actor, ADD, database, table)
    if not await comments_enabled(datasette, database, table):
        raise Forbidden(NOT_ENABLED)
    emoji = data.get("emoji")
    if not isinstance(emoji, str) or emoji not in REACTIONS:
        raise InvalidInput(f"'emoji' must be one of: {', '.join(REACTIONS)}")
    if comment["deleted_at"]:
        raise Conflict(DELETED)
    added = await store.toggle_reaction(datasette, comment["id"], me, emoji, clock.iso())
    return await answer(datasette, request, data, comment["thread_id"], added=added)


@route()
async def revisions_api(datasette, request):
    comment = await load_comment(datasette, request.actor, request.url_vars["comment_id"])
    if comment["deleted_at"]:
        raise NotFound("Comment not found")
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
