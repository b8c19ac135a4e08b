"""datasette-internal-db: a safe, persistent home for plugin state in Datasette's internal DB."""

from datasette import hookimpl
from datasette.permissions import Action

from . import audit, cache, clock, jobs, paths, routing, secrets, text, web
from .answers import RecentAnswers, recent_answers
from .cache import Cache
from .cli import internal
from .database import (
    UnsupportedDatasette,
    get_internal_db,
    is_persistent,
    is_read_node,
    read_row,
    read_rows,
    where_clause,
)
from .errors import BodyTooLarge, Conflict, InvalidInput
from .lifecycle import prepare_internal_db
from .loop_reads import internal_data_version, loop_connection, read_on_loop
from .markdown import MARKDOWN_VERSION, render_markdown
from .migrations import table_prefix
from .plugin import Plugin
from .readnode import refused_write_response
from .routes import admin_menu_links, routes
from .routing import (
    error_response,
    next_token,
    page_after,
    page_links,
    page_size,
    read_page,
    route,
    wants_json,
)
from .rows import fetch_row
from .secrets import SecretsUnreadable
from .settings import RuntimeSettings, Setting
from .web import asset_url, json_response

__all__ = [
    "MARKDOWN_VERSION",
    "BodyTooLarge",
    "Cache",
    "Conflict",
    "InvalidInput",
    "Plugin",
    "RecentAnswers",
    "RuntimeSettings",
    "SecretsUnreadable",
    "Setting",
    "UnsupportedDatasette",
    "asset_url",
    "audit",
    "cache",
    "clock",
    "error_response",
    "fetch_row",
    "get_internal_db",
    "internal_data_version",
    "is_persistent",
    "is_read_node",
    "jobs",
    "json_response",
    "loop_connection",
    "next_token",
    "page_after",
    "page_links",
    "page_size",
    "paths",
    "read_on_loop",
    "read_page",
    "read_row",
    "read_rows",
    "recent_answers",
    "render_markdown",
    "route",
    "secrets",
    "table_prefix",
    "text",
    "wants_json",
    "web",
    "where_clause",
]


@hookimpl(tryfirst=True)
def register_events(datasette):
    # The first hook Datasette awaits in invoke_startup(), before _refresh_schemas() writes its
    # internal tables and deletes catalog rows: the last moment a check can still refuse a file
    # untouched. So the safety checks, the lock and the migrations run here, not in startup.
    async def inner():
        await prepare_internal_db(datasette)
        return []

    return inner()


@hookimpl(tryfirst=True)
def handle_exception(datasette, request, exception):
    # Datasette's default handler still logs the traceback; this only decides the response.
    return refused_write_response(request, exception) or web.storage_error_response(exception)


@hookimpl
def register_actions(datasette):
    return [
        Action(
            name="internal-db-admin",
            description=(
                "See the internal database's status, audit log and jobs; change runtime settings"
            ),
        )
    ]


@hookimpl
def menu_links(datasette, actor):
    return admin_menu_links(datasette, actor)


@hookimpl
def register_routes(datasette):
    return routes


@hookimpl
def extra_template_vars(datasette, request):
    return routing.page_template_vars(datasette, request)


@hookimpl
def register_commands(cli):
    cli.add_command(internal)
