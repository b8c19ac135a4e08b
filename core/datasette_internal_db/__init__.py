"""datasette-internal-db: a safe, persistent home for plugin state in Datasette's internal DB."""

from datasette import hookimpl
from datasette.permissions import Action
from datasette.plugins import pm

from . import audit, cache, hookspecs, jobs, secrets
from .cache import Cache
from .database import UnsupportedDatasette, get_internal_db, is_persistent
from .errors import InvalidInput
from .lifecycle import prepare_internal_db
from .migrations import table_prefix
from .settings import RuntimeSettings, Setting

pm.add_hookspecs(hookspecs)

__all__ = [
    "Cache",
    "InvalidInput",
    "RuntimeSettings",
    "Setting",
    "UnsupportedDatasette",
    "audit",
    "cache",
    "get_internal_db",
    "is_persistent",
    "jobs",
    "secrets",
    "table_prefix",
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
def register_routes(datasette):
    from .routes import routes

    return routes


@hookimpl
def register_commands(cli):
    from .cli import internal

    cli.add_command(internal)
