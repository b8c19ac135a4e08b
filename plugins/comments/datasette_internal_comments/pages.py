"""HTML: the pages under /-/comments, and what the plugin adds to Datasette's own pages: the row
page's threads below its data, the table page's badges (counted with the page) and dialog, the
unread-mentions count in the menu, and action links."""

import json
import weakref
from pathlib import Path
from urllib.parse import urlencode

from datasette.utils import urlsafe_components
from datasette.utils.asgi import Response
from datasette_internal_db import InvalidInput, asset_url, route

from . import access, store, store_activity
from .access import ADD, VIEW
from .api import load_thread, target_filters
from .api_lists import activity_page, inbox_page
from .forms import safe_next
from .presenting import threads_json
from .rendering import REACTION_LABELS, REACTIONS, render
from .settings import comments_enabled
from .targets import check, require_table

STATIC = "datasette_internal_comments"
CORE = "datasette-internal-db"
PAGES_WITH_COMMENTS = ("table", "row")
# Inlined at the end of table and row pages: it runs before the first paint, with no request.
FIRST_PAINT_JS = (Path(__file__).parent / "static" / "first-paint.js").read_text()
# Kept in the request's scope while Datasette draws a table page.
ROWS_SEEN = "datasette_internal_comments_rows"
UNREAD_READ = "datasette_internal_comments_unread"
MAY_VIEW = "datasette_internal_comments_may_view"
DIALOGS = weakref.WeakKeyDictionary()  # datasette → {(database, table): the dialog's HTML}
MAX_DIALOGS = 1000


async def render_page(datasette, request, template, context):
    return Response.html(await datasette.render_template(template, context, request))


async def render_fragment(datasette, request, template, context):
    """A template that is not a page, without render_template's hooks (this runs while
    Datasette draws its own pages)."""
    environment = datasette.get_jinja_environment(request)
    return await environment.get_template(template).render_async(
        {"urls": datasette.urls, "request": request, **context}
    )


# ---------------------------------------------------------------------------- our pages


@route()
async def activity_html(datasette, request):
    page = await activity_page(datasette, request)
    context = {
        **page,
        "args": request.args,
        "signed_in": access.actor_id(request.actor) is not None,
        "unread_mentions": await unread_mentions(datasette, request.actor),
        "breadcrumbs": [("Comments", None)],
    }
    template = "datasette_internal_comments_activity.html"
    return await render_page(datasette, request, template, context)


@route()
async def inbox_html(datasette, request):
    page = await inbox_page(datasette, request)
    page["breadcrumbs"] = [("Comments", datasette.urls.path("/-/comments")), ("Inbox", None)]
    return await render_page(datasette, request, "datasette_internal_comments_inbox.html", page)


@route()
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
    context = {
        "thread": payload,
        "revisions": revisions,
        "reaction_labels": REACTION_LABELS,
        "reaction_choices": REACTIONS,
        "next": request.path,
        "breadcrumbs": [
            ("Comments", datasette.urls.path("/-/comments")),
            (f"Thread #{payload['id']}", None),
        ],
    }
    return await render_page(
        datasette, request, "datasette_internal_comments_thread_page.html", context
    )


async def panel_context(datasette, request, database, table, row_key, column="", recent=False):
    """Context of the panel template: the threads of one target and the form for a new one.
    ``recent``: may-add from core's recent_answers (the panel drawn on Datasette's row page;
    posting a thread checks afresh)."""
    actor = request.actor
    threads, contents = await store.threads_for_target(datasette, database, table, column, row_key)
    columns = await store.column_names(datasette, database, table) if table else []
    if recent:
        verdicts = await access.recent_verdicts(datasette, actor, database, table, (ADD,))
        may_add = verdicts[ADD]
    else:
        may_add = await access.can(datasette, actor, ADD, database, table)
    target = {"database": database, "table": table, "row": row_key, "column": column}
    fragment_query = {key: value for key, value in target.items() if value}
    what = "row" if row_key else "column" if column else "table" if table else "database"
    row_threads = None
    if table and not row_key and not column:
        found, still_open = await store.row_thread_summary(datasette, database, table)
        activity = datasette.urls.path(
            "/-/comments?" + urlencode({"database": database, "table": table})
        )
        row_threads = {"threads": found, "open": still_open, "url": activity}
    return {
        "threads": await threads_json(datasette, actor, threads, contents),
        "panel_target": target,
        "heading": "Threads on this " + what,
        "empty_text": f"No threads on this {what} yet.",
        "row_threads": row_threads,
        "columns": columns,
        "can_add": may_add
        and access.actor_id(actor) is not None
        and await comments_enabled(datasette, database, table),
        "signed_in": access.actor_id(actor) is not None,
        "reaction_labels": REACTION_LABELS,
        "reaction_choices": REACTIONS,
        "fragment_url": datasette.urls.path(
            "/-/comments/target?" + urlencode({**fragment_query, "fragment": "1"})
        ),
    }


@route()
async def target_html(datasette, request):
    """The threads on one target with a form to start one; ``fragment=1`` for the table page."""
    target = target_filters(request)
    database, table = target["database"], target["table"]
    if not database:
        raise InvalidInput("'database' is required")
    await check(datasette, request.actor, VIEW, database, table)
    if table:
        await require_table(datasette, database, table)
    context = await panel_context(
        datasette, request, database, table, target["row"], target["column"]
    )
    if request.args.get("fragment"):
        context["next"] = safe_next(request.args.get("next"), request.path)
        context["in_dialog"] = True
        html = await render_fragment(
            datasette, request, "datasette_internal_comments_panel.html", context
        )
        return Response.html(html)
    context["next"] = request.full_path
    context["breadcrumbs"] = [("Comments", datasette.urls.path("/-/comments")), ("Target", None)]
    return await render_page(datasette, request, "datasette_internal_comments_target.html", context)


# ---------------------------------------------------------------------------- Datasette's pages


async def may_view(datasette, request, database, table):
    """May the reader see comments here? Core's recent_answers (asked at most once a second),
    kept in the request for the four hooks of one page."""
    if request is None or not database or not table:
        return False
    answers = request.scope.setdefault(MAY_VIEW, {})
    if (database, table) not in answers:
        verdicts = await access.recent_verdicts(datasette, request.actor, database, table, (VIEW,))
        answers[(database, table)] = verdicts[VIEW]
    return answers[(database, table)]


# Core's asset_url: plain strings, to which Datasette adds base_url.
ASSET_URLS = {
    "js": [
        # Module scripts are deferred: they never hold up the rendering of the table.
        {"url": asset_url(CORE, "datasette-internal.js"), "module": True},
        {"url": asset_url(STATIC, "comments.js"), "module": True},
    ],
    "css": [asset_url(CORE, "datasette-internal.css"), asset_url(STATIC, "comments.css")],
}


async def asset_urls(datasette, request, view_name, database, table, kind):
    if view_name not in PAGES_WITH_COMMENTS or not await may_view(
        datasette, request, database, table
    ):
        return []
    return ASSET_URLS[kind]


def remember_row(row, pks, request):
    """render_cell, for every cell Datasette draws: keep each row (once) so the badge counts
    can be read in one query for exactly the rows shown. Only the row object is kept here, for
    every visitor; its key is made later, and only for a reader who may see comments."""
    if not pks or request is None:
        return
    seen = request.scope.get(ROWS_SEEN)
    if seen is None:
        request.scope[ROWS_SEEN] = (pks, [row])
    elif seen[1][-1] is not row:
        seen[1].append(row)


def keys_of_rows_seen(request):
    """The row keys of the rows a table page showed (the table page calls render_cell only for
    the rows of its own table)."""
    seen = request.scope.get(ROWS_SEEN)
    if seen is None:
        return []
    pks, rows = seen
    if len(pks) == 1:
        # The common single-integer key, without a row_key_for call per row: its digits.
        pk = pks[0]
        values = [row[pk] for row in rows]
        return [str(v) if type(v) is int else store.row_key_for([v]) for v in values]
    return [store.row_key_for([row[pk] for pk in pks]) for row in rows]


async def body_script(datasette, request, view_name, database, table):
    """The script run before the first paint (static/first-paint.js); on a table page with the
    thread counts of the rows shown, read here (Datasette asks this hook before it draws the
    page) in one read with the reader's unread mentions, which the menu then shows."""
    if view_name not in PAGES_WITH_COMMENTS or not await may_view(
        datasette, request, database, table
    ):
        return ""  # an awaited None would be drawn as the script "None"
    if view_name == "row":
        return FIRST_PAINT_JS
    keys = keys_of_rows_seen(request)
    counts, unread = await store_activity.table_page_reads(
        datasette, database, table, keys, access.actor_id(request.actor)
    )
    request.scope[UNREAD_READ] = unread
    # The counts are JSON text as SQLite made it, put in as they are. Not counted: a table
    # shown with only its primary key (Datasette called no render_cell).
    badges_url = json.dumps(datasette.urls.path("/-/comments/api/badges"))
    page = f'{{"counts": {counts}, "counted": {json.dumps(bool(keys))}, "badgesUrl": {badges_url}}}'
    return f"window.datasetteCommentsPage = {script_safe(page)};\n{FIRST_PAINT_JS}"


def script_safe(text):
    """JSON text made safe inside an inline <script>: no character of it can end the element."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def table_dialog(datasette, request, database, table):
    """top_table: the dialog the row badges open, and the badge icon. The same for every page
    of a table, so it is rendered once per table and kept."""
    if not await may_view(datasette, request, database, table):
        return ""
    shells = DIALOGS.setdefault(datasette, {})
    if (database, table) not in shells:
        if len(shells) >= MAX_DIALOGS:
            shells.clear()
        shells[(database, table)] = await render_fragment(
            datasette,
            request,
            "datasette_internal_comments_table.html",
            {"database": database, "table": table},
        )
    return shells[(database, table)]


async def row_panel(datasette, request, database, table):
    """top_row: the row's threads (moved below the row's data by first-paint.js)."""
    if not await may_view(datasette, request, database, table):
        return ""
    row_key = store.row_key_for(urlsafe_components(request.url_vars["pks"]))
    context = await panel_context(datasette, request, database, table, row_key, recent=True)
    context.update(next=request.path, row_panel=True)
    return await render_fragment(
        datasette, request, "datasette_internal_comments_panel.html", context
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


async def unread_mentions(datasette, actor, request=None):
    """Unread mentions of the actor on targets they may still see: one indexed query (usually
    empty; a table page has read it already), then a recent_answers check per target found."""
    me = access.actor_id(actor)
    if me is None:
        return 0
    by_target = request.scope.get(UNREAD_READ) if request is not None else None
    if by_target is None:
        by_target = await store_activity.unread_mentions_by_target(datasette, me)
    total = 0
    for (database, table), count in by_target.items():
        if (await access.recent_verdicts(datasette, actor, database, table, (VIEW,)))[VIEW]:
            total += count
    return total


async def menu_links(datasette, actor, request):
    if access.actor_id(actor) is None:
        return []
    unread = await unread_mentions(datasette, actor, request)
    inbox = "Comments inbox"
    if unread:
        inbox += f" ({unread} unread mention{'s' if unread != 1 else ''})"
    return [
        {"href": datasette.urls.path("/-/comments"), "label": "Comments"},
        {"href": datasette.urls.path("/-/comments/inbox"), "label": inbox},
    ]
