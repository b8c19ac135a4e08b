"""datasette-internal-db: a safe, persistent home for plugin state in Datasette's internal DB."""

# isort: skip_file
from datasette import hookimpl
from datasette.permissions import Action

from . import audit, cache, clock, hookspecs, jobs, secrets, web
from .cache import Cache
from .database import UnsupportedDatasette, get_internal_db, is_persistent
from .errors import InvalidInput
from .migrations import table_prefix
from .settings import RuntimeSettings, Setting


__all__ = [
    "Cache",
    "InvalidInput",
    "RuntimeSettings",
    "Setting",
    "UnsupportedDatasette",
    "audit",
    "cache",
    "clock",
    "get_internal_db",
    "is_persistent",
    "jobs",
    "secrets",
    "table_prefix",
    "web",
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
    return web.storage_error_response(exception)


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
    async def inner():
        if await datasette.allowed(action="internal-db-admin", actor=actor):
            return [{"href": datasette.urls.path("/-/internal"), "label": "Internal database"}]
        return []

    return inner()


@hookimpl
def register_routes(datasette):
    return routes


@hookimpl
def register_commands(cli):
    cli.add_command(internal)


# Importing datasette.plugins loads every installed plugin's entry point, this package's own
# included: the plugins import the names above from this still-initialising module, and pluggy
# registers the hook functions defined so far. So these imports come last.
from datasette.plugins import pm  # noqa: E402
from .cli import internal  # noqa: E402
from .lifecycle import prepare_internal_db  # noqa: E402
from .routes import routes  # noqa: E402

pm.add_hookspecs(hookspecs)
