"""What the plugin adds to Datasette's own pages: badge script, row panel, menu links."""

import json
from urllib.parse import urlencode

from datasette.utils import urlsafe_components

from . import access, store
from .routes import panel_context

PAGES_WITH_COMMENTS = ("table", "row")
STATIC = "datasette_internal_comments"


def js_urls(view_name, datasette):
    if view_name not in PAGES_WITH_COMMENTS:
        return []
    # A module script is deferred: it never holds up the rendering of the table.
    return [{"url": datasette.urls.static_plugins(STATIC, "comments.js"), "module": True}]


def css_urls(view_name, datasette):
    if view_name not in PAGES_WITH_COMMENTS:
        return []
    return [datasette.urls.static_plugins(STATIC, "comments.css")]


def body_script(view_name, database, table, request, datasette):
    # No permission check and no query here, so the table page costs what it did without the
    # plugin: the script asks the badges endpoint after the page loaded, and that endpoint
    # answers only actors who may read comments on this table.
    if view_name != "table" or not table:
        return None
    config = {
        "database": database,
        "table": table,
        "badgesUrl": datasette.urls.path("/-/comments/api/badges"),
        "targetUrl": datasette.urls.path("/-/comments/target"),
    }
    return "window.datasetteComments = " + json.dumps(config).replace("<", "\\u003c") + ";"


def row_panel(datasette, request, database, table):
    async def inner():
        if not await access.can(datasette, request.actor, access.VIEW, database, table):
            return ""
        row_key = store.row_key_for(urlsafe_components(request.url_vars["pks"]))
        context = await panel_context(datasette, request, database, table, row_key)
        context["next"] = request.path
        return await datasette.render_template("comments_panel.html", context, request)

    return inner


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
