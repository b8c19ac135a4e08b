"""HTML: the pages under /-/comments, and what the plugin adds to Datasette's own pages (the
row page's threads, the table page's badges and dialog, menu and action links)."""

import json
from urllib.parse import urlencode

from datasette.utils import urlsafe_components
from datasette.utils.asgi import NotFound, Response
from datasette_internal_db import InvalidInput

from . import access, store
from .access import ADD, VIEW
from .api import load_thread, target_filters
from .api_lists import activity_page, inbox_page
from .forms import comments_route, safe_next
from .presenting import threads_json
from .rendering import REACTIONS, render
from .settings import comments_enabled
from .targets import check

PAGES_WITH_COMMENTS = ("table", "row")
STATIC = "datasette_internal_comments"


async def render_page(datasette, request, template, context):
    return Response.html(await datasette.render_template(template, context, request))


@comments_route()
async def activity_html(datasette, request):
    page = await activity_page(datasette, request)
    return await render_page(
        datasette,
        request,
        "datasette_internal_comments_activity.html",
        {**page, "args": request.args, "signed_in": bool(request.actor), "breadcrumbs": []},
    )


@comments_route()
async def inbox_html(datasette, request):
    page = await inbox_page(datasette, request)
    return await render_page(datasette, request, "datasette_internal_comments_inbox.html", page)


@comments_route()
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
        "datasette_internal_comments_thread_page.html",
        {
            "thread": payload,
            "revisions": revisions,
            "reactions": REACTIONS,
            "next": request.path,
        },
    )


async def panel_context(datasette, request, database, table, row_key, column=""):
    """Context of the panel template: the threads of one target and the form for a new one."""
    actor = request.actor
    threads, contents = await store.threads_for_target(datasette, database, table, column, row_key)
    columns = await store.column_names(datasette, database, table) if table else []
    may_add = await access.can(datasette, actor, ADD, database, table)
    fragment_query = {"database": database, "table": table, "row": row_key, "column": column}
    fragment_query = {key: value for key, value in fragment_query.items() if value}
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
            "/-/comments/target?" + urlencode({**fragment_query, "fragment": "1"})
        ),
    }


@comments_route()
async def target_html(datasette, request):
    """The threads on one target with a form to start one; ``fragment=1`` for the table page."""
    target = target_filters(request)
    database, table = target["database"], target["table"]
    if not database:
        raise InvalidInput("'database' is required")
    await access_check(datasette, request, database, table)
    context = await panel_context(
        datasette, request, database, table, target["row"], target["column"]
    )
    if request.args.get("fragment"):
        context["next"] = safe_next(request.args.get("next"), request.path)
        return await render_page(
            datasette, request, "datasette_internal_comments_panel.html", context
        )
    context["next"] = request.full_path
    return await render_page(datasette, request, "datasette_internal_comments_target.html", context)


async def access_check(datasette, request, database, table):
    await check(datasette, request.actor, VIEW, database, table)
    if table and table not in await store.table_names(datasette, database):
        raise NotFound("Table not found")


# ---------------------------------------------------------------------------- Datasette's pages


def js_urls(datasette, view_name):
    if view_name not in PAGES_WITH_COMMENTS:
        return []
    # A module script is deferred: it never holds up the rendering of the table.
    return [{"url": datasette.urls.static_plugins(STATIC, "comments.js"), "module": True}]


def css_urls(datasette, view_name):
    if view_name not in PAGES_WITH_COMMENTS:
        return []
    return [datasette.urls.static_plugins(STATIC, "comments.css")]


def body_script(datasette, view_name, database, table):
    if view_name != "table" or not table:
        return None
    config = {
        "database": database,
        "table": table,
        "badgesUrl": datasette.urls.path("/-/comments/api/badges"),
        "targetUrl": datasette.urls.path("/-/comments/target"),
    }
    return "window.datasetteComments = " + json.dumps(config).replace("<", "\\u003c") + ";"


async def row_panel(datasette, request, database, table):
    if not await access.can(datasette, request.actor, VIEW, database, table):
        return ""
    row_key = store.row_key_for(urlsafe_components(request.url_vars["pks"]))
    context = await panel_context(datasette, request, database, table, row_key)
    context["next"] = request.path
    return await datasette.render_template(
        "datasette_internal_comments_panel.html", context, request
    )


def target_link(datasette, actor, database, table, label):
    # Shown to every signed-in actor without a permission query (this runs on every table and
    # database page); the linked page itself answers 404 to anyone who may not read comments there.
    if access.actor_id(actor) is None:
        return []
    query = urlencode({"database": database, **({"table": table} if table else {})})
    return [
        {
            "href": datasette.urls.path("/-/comments/target?" + query),
            "label": label,
            "description": "Threads about this " + ("table" if table else "database"),
        }
    ]


def menu_links(datasette, actor):
    if access.actor_id(actor) is None:
        return []
    return [
        {"href": datasette.urls.path("/-/comments"), "label": "Comments"},
        {"href": datasette.urls.path("/-/comments/inbox"), "label": "Comments inbox"},
    ]
