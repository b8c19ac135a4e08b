"""The JSON API of lists under /-/comments/api/: activity and search, the inbox, badge counts,
mention autocomplete. Lists page the Datasette way: ``_size`` and ``_next`` in, ``next`` and
``next_url`` out."""

from datasette.utils.asgi import Forbidden, Response
from datasette_internal_db import InvalidInput, clock, json_response, read_page, route
from datasette_internal_db.web import parse_int

from . import access, store, store_activity
from .access import VIEW
from .actors import mention_candidates
from .forms import read_input, reply_to, require_actor
from .presenting import comment_entries
from .targets import check, require_table

MAX_BADGE_ROWS = 1000
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


async def newest_first(request, fetch, key):
    """One page (``_size``, ``_next``) of a newest-first list: ``fetch(before_id, limit)``;
    ``key`` is the id column the ``_next`` token holds. ``(rows, {"next", "next_url"})``."""

    async def after_token(after, limit):
        return await fetch(parse_int(after[0], "_next", minimum=1) if after else None, limit)

    return await read_page(request, after_token, (key,), PAGE_SIZE, MAX_PAGE_SIZE)


def activity_filters(request):
    args = request.args
    resolved = args.get("resolved") or ""
    if resolved not in ("", "yes", "no"):
        raise InvalidInput("'resolved' must be 'yes' or 'no'")
    mentions = args.get("mentions") or ""
    if mentions not in ("", "me"):
        raise InvalidInput("'mentions' may only be 'me'")
    if mentions and access.actor_id(request.actor) is None:
        raise Forbidden("Sign in to filter by mentions")
    return {
        "query": (args.get("q") or "").strip()[:500],
        "author": args.get("author") or None,
        "database": args.get("database") or None,
        "table": args.get("table") or None,
        "resolved": {"yes": True, "no": False}.get(resolved),
        "mentioning": access.actor_id(request.actor) if mentions else None,
    }


async def activity_page(datasette, request):
    """One page of the activity list: ``{"comments", "next", "next_url"}``."""
    filters = activity_filters(request)
    scope = await access.visible_scope(datasette, request.actor)
    rows, links = await newest_first(
        request,
        lambda before_id, limit: store_activity.activity(
            datasette, scope, **filters, before_id=before_id, limit=limit
        ),
        "id",
    )
    return {"comments": await comment_entries(datasette, rows), **links}


async def inbox_page(datasette, request):
    """One page of the signed-in actor's inbox: ``{"unread_count", "entries", "next", ...}``."""
    me = require_actor(request)
    unread_only = request.args.get("unread") in ("1", "yes", "true")
    scope = await access.visible_scope(datasette, request.actor)
    rows, links = await newest_first(
        request,
        lambda before_id, limit: store_activity.inbox(
            datasette, me, scope, unread_only=unread_only, before_id=before_id, limit=limit
        ),
        "inbox_id",
    )
    return {
        "unread_count": await store_activity.unread_count(datasette, me, scope),
        "entries": await comment_entries(datasette, rows),
        **links,
    }


@route()
async def activity_api(datasette, request):
    return Response.json({"ok": True, **await activity_page(datasette, request)})


@route()
async def inbox_api(datasette, request):
    return Response.json({"ok": True, **await inbox_page(datasette, request)})


@route(methods=("POST",))
async def inbox_read_api(datasette, request):
    """Mark inbox entries read: ``{"ids": [...]}`` or ``{"all": true}``."""
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
    marked = await store_activity.mark_read(datasette, me, ids, clock.iso())
    scope = await access.visible_scope(datasette, request.actor)
    payload = {
        "marked": marked,
        "unread_count": await store_activity.unread_count(datasette, me, scope),
    }
    return reply_to(request, data, payload, datasette.urls.path("/-/comments/inbox"))


@route()
async def badges_api(datasette, request):
    """Thread counts for rows of one table: ``row=`` once per row, up to MAX_BADGE_ROWS."""
    args = request.args  # parsed anew on every access: a hundred rows once, not three times
    database = args.get("database") or ""
    table = args.get("table") or ""
    row_keys = args.getlist("row")
    if not database or not table:
        raise InvalidInput("'database' and 'table' are required")
    if len(row_keys) > MAX_BADGE_ROWS:
        raise InvalidInput(f"At most {MAX_BADGE_ROWS} rows per request")
    # A read: the permission answer may be one core's recent_answers gave within a second.
    await check(datasette, request.actor, VIEW, database, table, recent=True)
    counts = await store.badge_counts(datasette, database, table, row_keys)
    if not counts:
        await require_table(datasette, database, table)
    return json_response({"ok": True, "counts": counts})


@route()
async def actors_api(datasette, request):
    """Mention autocomplete: actors whose id (or, from other plugins, name) starts with ``q``."""
    prefix = (request.args.get("q") or "").lstrip("@")[:64]
    scope = await access.visible_scope(datasette, request.actor)
    seen = await store_activity.known_authors(datasette, scope, prefix) if scope else []
    actors = await mention_candidates(datasette, request.actor, prefix, seen)
    return Response.json({"ok": True, "actors": actors})
