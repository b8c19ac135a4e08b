"""datasette-internal-bookmarks: bookmarks and safe short links kept in the internal DB.
Hook wiring only."""

from datasette import hookimpl

from . import access, pages
from .events import EVENTS
from .migrations import migrations
from .redirect import link_cache
from .routes import routes
from .settings import plugin
from .visits import start_flushing


@hookimpl
def register_internal_migrations(datasette):
    return migrations


@hookimpl
def register_actions(datasette):
    return access.ACTIONS


@hookimpl
def permission_resources_sql(datasette, actor, action):
    return access.default_permission_sql(datasette, actor, action)


@hookimpl
def register_events(datasette):
    return EVENTS


@hookimpl
def register_routes(datasette):
    return routes


@hookimpl
def startup(datasette):
    plugin.require_core(datasette)
    start_flushing(datasette, link_cache(datasette).visits)


@hookimpl
def shutdown(datasette):
    async def inner():
        await link_cache(datasette).visits.flush(datasette)

    return inner()


@hookimpl
def table_actions(datasette, actor, database, table, request):
    return pages.action_items(datasette, actor, request, title=table)


@hookimpl
def view_actions(datasette, actor, database, view, request):
    return pages.action_items(datasette, actor, request, title=view)


@hookimpl
def row_actions(datasette, actor, request, database, table, row):
    pks = request.url_vars.get("pks", "")
    return pages.action_items(datasette, actor, request, title=f"{table}: {pks}")


@hookimpl
def query_actions(datasette, actor, database, query_name, request, sql, params):
    return pages.action_items(datasette, actor, request, title=query_name or f"Query on {database}")


@hookimpl
def database_actions(datasette, actor, database, request):
    return pages.action_items(datasette, actor, request, title=database)


@hookimpl
def homepage_actions(datasette, actor, request):
    return pages.action_items(datasette, actor, request, title="Home")


@hookimpl
def menu_links(datasette, actor, request):
    return pages.menu_links(datasette, actor)


@hookimpl
def extra_js_urls(template, request, datasette):
    return pages.menu_scripts(datasette, template, request)


@hookimpl
def extra_css_urls(template, request, datasette):
    return pages.menu_styles(datasette, template, request)
