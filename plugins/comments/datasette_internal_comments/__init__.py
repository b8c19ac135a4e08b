"""datasette-internal-comments: comment threads on databases, tables, columns, rows and cells.
Hook wiring only."""

from datasette import hookimpl

from . import access, outbox, pages
from .events import EVENTS
from .migrations import migrations
from .routes import routes
from .settings import plugin


@hookimpl
def register_internal_migrations(datasette):
    return migrations


@hookimpl
def register_actions(datasette):
    return access.ACTIONS


@hookimpl
def permission_resources_sql(datasette, actor, action):
    return access.default_permission_sql(actor, action)


@hookimpl
def register_events(datasette):
    return EVENTS


@hookimpl
def asgi_wrapper(datasette):
    return outbox.asgi_wrapper(datasette)


@hookimpl
def startup(datasette):
    plugin.require_core(datasette)
    outbox.start(datasette)


@hookimpl
def register_routes(datasette):
    return routes


@hookimpl
def extra_js_urls(view_name, database, table, request, datasette):
    return pages.asset_urls(datasette, request, view_name, database, table, "js")


@hookimpl
def extra_css_urls(view_name, database, table, request, datasette):
    return pages.asset_urls(datasette, request, view_name, database, table, "css")


@hookimpl
def extra_body_script(view_name, database, table, request, datasette):
    return pages.body_script(datasette, request, view_name, database, table)


# Called for every cell of every page: the hook is pages.remember_row itself, with no call
# between, and asks pluggy for only the three arguments it uses.
render_cell = hookimpl(specname="render_cell")(pages.remember_row)


@hookimpl
def top_table(datasette, request, database, table):
    return pages.table_dialog(datasette, request, database, table)


@hookimpl
def top_row(datasette, request, database, table, row):
    return pages.row_panel(datasette, request, database, table)


@hookimpl
def table_actions(datasette, actor, database, table, request):
    return pages.target_link(datasette, actor, database, table, "Comments on this table")


@hookimpl
def database_actions(datasette, actor, database, request):
    return pages.target_link(datasette, actor, database, "", "Comments on this database")


@hookimpl
def menu_links(datasette, actor, request):
    return pages.menu_links(datasette, actor, request)
